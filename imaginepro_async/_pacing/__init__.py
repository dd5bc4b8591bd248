"""Pacing: the one clock (API seconds), request budgets and their protocols, retry backoff.

The bottom layer with ``_wire``: imports only the root's foundation modules.
"""
