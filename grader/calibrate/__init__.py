"""Scripts that measured the hidden checks' thresholds (run by hand; see each module)."""
