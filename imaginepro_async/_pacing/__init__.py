"""Pacing: the one clock (API seconds), request budgets and their protocols, retry backoff.

Just above the foundation (with ``_masks``): imports only the root's foundation modules.
"""
