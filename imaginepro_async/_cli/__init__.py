"""The ``imaginepro-async`` command line: the light entry point (``entry.py``), the parser and exit
codes (``app.py``), shared terms and file checks (``common.py``), and one module per command group:
single jobs (``jobs.py``), batches (``batch.py``), masks (``mask.py``)."""
