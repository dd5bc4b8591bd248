"""Coordination of several processes on one API key, through Redis: shared budgets, shared jobs.

Imports the foundation, ``_pacing``, ``_wire`` and ``_scheduling``; the client imports it.
"""
