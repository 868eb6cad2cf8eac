"""``python -m sca_lava`` = ``sca-lava`` (what ``torchrun -m sca_lava ...`` runs)."""

from sca_lava.cli import run

if __name__ == "__main__":
    run()
