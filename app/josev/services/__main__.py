"""`josev-iso15118` / `python -m josev.services`: the josev-iso15118 service, started lean.

Why a module of its own: the garbage collector must be off before the service's modules load,
so in a module that imports nothing heavy itself (it would walk the growing heap many times
for nothing: every object created there lives as long as the process; `run_service` freezes
them and turns it on again). The service does not load pydantic at all (josev.lean).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()
    from josev.services.iso15118 import main as service_main

    return service_main(argv)


if __name__ == "__main__":
    sys.exit(main())
