"""``python -m imaginepro_async``: the ``imaginepro-async`` command line."""

import sys

from ._cli.entry import main

if __name__ == "__main__":
    sys.exit(main())
