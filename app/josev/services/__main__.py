"""`josev-iso15118` / `python -m josev.services`: the josev-iso15118 service, started lean.

Why a module of its own: two things must happen before the ~330 modules and 80 pydantic models
of the service load, so in a module that imports nothing heavy itself: the garbage collector
is off during the imports (it would walk the growing heap ~150 times for nothing: every
object created there lives as long as the process; `run_service` freezes them and turns it on
again), and pydantic does not scan every installed distribution for plugins (the service uses
none; PYDANTIC_DISABLE_PLUGINS set in the environment still wins).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from josev.services.iso15118 import main as service_main

    return service_main(argv)


if __name__ == "__main__":
    sys.exit(main())
