"""`python -m fer_core.batch INPUT... --out DIR`: see `fer_core.batch.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
