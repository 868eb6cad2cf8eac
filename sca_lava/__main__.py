"""``python -m sca_lava`` = ``sca-lava`` (what ``torchrun -m sca_lava ...`` runs)."""

import sys

from sca_lava.cli import main

if __name__ == "__main__":
    sys.exit(main())
