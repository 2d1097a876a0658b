"""dpsql's benchmark suite: `python -m bench.run` (see bench/README.md).

Not part of the installed distribution; run from the repository root.
"""
