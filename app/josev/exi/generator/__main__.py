"""`python -m josev.exi.generator [--schemas DIR] [--out DIR] [--check]`."""

from __future__ import annotations

import sys

from . import main

sys.exit(main(sys.argv[1:]))
