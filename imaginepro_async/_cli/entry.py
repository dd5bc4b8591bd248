"""The ``imaginepro-async`` console script: imports the command line, then runs it.

Kept apart from the rest of ``_cli`` (``app.py``) so that a Ctrl-C while the command line's modules are still being imported
exits 130 with one line, like a Ctrl-C later on, instead of a Python traceback.
"""

from __future__ import annotations

import signal
import sys


def main() -> int:
    """Run the command line; returns the exit status (the process ends right after)."""
    try:
        from .app import main as run

        code = run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        code = 130
    # The process is ending: a Ctrl-C now would only print "Exception ignored" noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code
