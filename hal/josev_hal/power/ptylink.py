"""Two serial ports joined back to back: a CAN "cable" between processes as slcan over ptys.

The kernel here has no vcan, and python-can's virtual bus does not leave the process. Two
pseudo-terminals whose master sides are relayed to each other give two device paths; a
python-can `slcan` bus on each end then exchanges real frames (slcan's ASCII adapter commands
from the other end are ignored by the receiving parser). Used to run the module simulator as
its own process: `josev-hal sim can-link`, then `josev-hal sim modules --channel <path>`.
"""

from __future__ import annotations

import os
import select
import threading
import tty


class PtyLink:
    def __init__(self) -> None:
        self._fds: list[int] = []
        ends = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(master)
            tty.setraw(slave)
            self._fds += [master, slave]
            ends.append((master, os.ttyname(slave)))
        (self._m1, self.a_path), (self._m2, self.b_path) = ends
        self._stop = threading.Event()
        self.relayed = 0
        self._thread = threading.Thread(target=self._relay, name="ptylink", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._m1, self._m2], [], [], 0.1)
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                    os.write(self._m2 if fd == self._m1 else self._m1, data)
                    self.relayed += len(data)
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        for fd in self._fds:
            os.close(fd)
