"""``python -m moderncnn`` (and ``torchrun -m moderncnn``) runs the command line."""

import sys

from moderncnn.cli import main

sys.exit(main())
