"""Batches of inpaints: intake, submission, following, results, and the SQLite journal.

Built on the public client API; imports the client layer and everything below it. From the top
down: ``batch`` (``Batch``: life cycle, intake, dispatch), ``submit`` (``Submitter``) and
``follow`` (``Follower``), which ``Batch`` owns and hands what they need, ``ledger`` (the run's
counts, journal writes and results stream), then ``intake``, ``results``, ``journal`` and
``journal_file``. Each imports only modules below it.
"""
