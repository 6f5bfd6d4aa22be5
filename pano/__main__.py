"""``python -m pano`` runs the command line (same as the ``pano`` script)."""

import sys

from pano.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
