"""Speed checks a submission cannot game: ``paired`` (the timing protocol, both ends, and
``paired_speedup``: interleaved rounds against the NumPy reference on CPU time read by the
trusted side) and ``varied`` (a slightly changed input per call, probes of the outputs)."""
