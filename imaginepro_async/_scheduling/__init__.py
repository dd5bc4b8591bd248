"""Scheduling: when to poll (the planner, pure), what is learnt, and the scheduler that polls.

Imports the foundation, ``_pacing`` and ``_wire``.
"""
