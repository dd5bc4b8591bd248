"""Benchmarks of imaginepro-async against a simulator in a separate process (see README.md).

``python -m benchmarks.compare`` and ``python -m benchmarks.scale``, from the repository root.
"""
