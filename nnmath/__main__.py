"""``python -m nnmath``: the command line (see :mod:`nnmath.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
