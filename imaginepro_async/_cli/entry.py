"""The ``imaginepro-async`` console script: imports the command line, then runs it.

Kept apart from the rest of ``_cli`` (``app.py``) so that a Ctrl-C while the command line's modules are still being imported
exits 130 with one line, like a Ctrl-C later on, instead of a Python traceback.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run the command line; returns the exit status."""
    try:
        from .app import main as run

        return run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130
