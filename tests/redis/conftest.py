"""The Redis tests use the real ``redis-server`` fixtures of ``tests/conftest.py``."""
