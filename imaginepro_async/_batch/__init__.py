"""Batches of inpaints: intake, submission, following, results, and the SQLite journal.

Built on the public client API; imports the client layer and everything below it.
"""
