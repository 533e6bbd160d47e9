"""The wire between the trusted side and a worker: ``protocol`` (messages as JSON plus raw
array bytes, never pickle) and ``channel`` (the pipes to one worker, with deadlines, its
captured output, and why it died)."""
