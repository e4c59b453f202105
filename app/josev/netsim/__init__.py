"""A simulated PLC link: network namespaces joined by veth pairs (or a bridge).

Without a HomePlug modem, the EVSE and the EV run in two network namespaces joined by a veth
pair, so SLAC frames, IPv6 link-local SDP and TCP/TLS really cross a link. Tests, the EV
simulator, `josev demo` and the benchmarks all use this one helper.

How it works: namespaces are named (``ip netns add``) so that an external process can attach
with ``ip netns exec``; inside this process, `Netns.socket()` creates a socket from a thread
that has entered the namespace with setns(2). A socket stays in the namespace it was created
in, so one asyncio loop can drive both ends. Link-local addresses are set explicitly from the
MAC (EUI-64) with ``nodad`` and automatic address generation turned off, so they are usable the
moment the link is up (no duplicate-address-detection wait).

Privileges: needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root). An ordinary user gets both inside a
user namespace where the kernel allows it: ``josev link run -- CMD`` re-executes CMD as the
mapped root of a fresh user+mount+net namespace (``unshare -Urnm``), in which this module then
works unchanged. Where neither is possible, `Link.create` raises `NamespaceUnavailable` with
the reason (tests skip with it).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import ipaddress
import logging
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from josev.transport.iface import PlcInterface

log = logging.getLogger(__name__)

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = Path("/run/netns")


class NamespaceUnavailable(RuntimeError):
    """Network namespaces cannot be created here; the message says why and what to do."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns(CLONE_NEWNET): {os.strerror(err)}")


def _ip(args: Sequence[str], batch: str | None = None) -> None:
    """Run iproute2; a failure raises with ip's own message (the useful part)."""
    cmd = ["ip", *args] if batch is None else ["ip", *args, "-batch", "-"]
    res = subprocess.run(cmd, input=batch, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise NamespaceUnavailable(f"{' '.join(cmd)} failed: {res.stderr.strip()}")


def unavailable_reason() -> str | None:
    """None when namespaces can be created here, else why not (for a test skip)."""
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    if os.geteuid() != 0:
        return (
            f"running as uid {os.geteuid()}: network namespaces need root; as an ordinary "
            "user run the command under `josev link run -- ...` (user namespaces)"
        )
    tag = "jvprobe" + secrets.token_hex(3)
    try:
        _ip(["netns", "add", tag])
    except NamespaceUnavailable as exc:
        return str(exc)
    with contextlib.suppress(NamespaceUnavailable):
        _ip(["netns", "del", tag])
    return None


def _no_dad() -> None:
    for scope in ("all", "default"):
        Path(f"/proc/sys/net/ipv6/conf/{scope}/accept_dad").write_text("0")


def _wait_link_local(ifname: str, mac: str, timeout: float = 2.0) -> str:
    """The kernel's EUI-64 link-local address, once it is on the interface (usually at once)."""
    want = eui64_link_local(mac)
    packed = socket.inet_pton(socket.AF_INET6, want).hex()
    deadline = time.monotonic() + timeout
    while True:
        # /proc/self/net follows the thread group leader; /proc/thread-self/net this thread.
        lines = Path("/proc/thread-self/net/if_inet6").read_text().splitlines()
        if any(ln.split()[0] == packed and ln.split()[-1] == ifname for ln in lines):
            return want
        if time.monotonic() > deadline:
            raise NamespaceUnavailable(f"{ifname}: link-local address {want} did not appear")
        time.sleep(0.005)


def eui64_link_local(mac: str) -> str:
    """The fe80::/64 address a kernel would derive from this MAC (RFC 4291 appendix A)."""
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes((b[0] ^ 0x02, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]))
    groups = [f"{int.from_bytes(iid[i : i + 2], 'big'):x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def random_mac() -> str:
    """A locally administered unicast MAC."""
    b = bytearray(secrets.token_bytes(6))
    b[0] = (b[0] & 0xFC) | 0x02
    return ":".join(f"{x:02x}" for x in b)


class Netns:
    """One named network namespace, and a thread that lives inside it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = NETNS_RUN_DIR / name
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

                def enter() -> None:
                    try:
                        _setns(fd)
                    finally:
                        os.close(fd)

                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"netns-{self.name}", initializer=enter
                )
            return self._pool

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call fn(*args) inside the namespace (blocking; keep it short)."""
        return self._executor().submit(fn, *args).result()

    def socket(self, family: int, type: int, proto: int = 0) -> socket.socket:
        """A socket that belongs to this namespace."""
        return self.run(socket.socket, family, type, proto)

    def if_nametoindex(self, ifname: str) -> int:
        """Interface index as seen inside the namespace (the caller's own view may differ)."""
        return self.run(socket.if_nametoindex, ifname)

    def run_once(self, fn: Callable[..., T], *args: Any) -> T:
        """Call fn(*args) inside the namespace from a short-lived thread."""
        box: list[T] = []
        errors: list[BaseException] = []
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

        def body() -> None:
            try:
                _setns(fd)
                box.append(fn(*args))
            except BaseException as exc:
                errors.append(exc)

        try:
            t = threading.Thread(target=body, name=f"netns-{self.name}")
            t.start()
            t.join()
        finally:
            os.close(fd)
        if errors:
            raise errors[0]
        return box[0]

    def plc_interface(self, ifname: str) -> PlcInterface:
        """An interface of this namespace as the transport wants it: index and link-local
        address read inside the namespace, sockets created there (for a process that lives
        outside it, e.g. next to the broker on the host's loopback)."""
        from josev.transport.iface import InterfaceError, PlcInterface

        def find() -> tuple[int, str]:
            index = socket.if_nametoindex(ifname)
            for line in Path("/proc/thread-self/net/if_inet6").read_text().splitlines():
                addr, _i, _p, _s, flags, dev = line.split()
                if dev == ifname and addr.startswith("fe80") and not int(flags, 16) & 0x48:
                    return index, addr
            raise InterfaceError(f"{ifname} in netns {self.name} has no usable link-local "
                                 "IPv6 address")

        try:
            index, hexaddr = self.run(find)
        except OSError as exc:
            raise InterfaceError(f"PLC interface {ifname!r} in netns {self.name!r}: {exc}") \
                from exc
        return PlcInterface(ifname, index, ipaddress.IPv6Address(bytes.fromhex(hexaddr)),
                            self.socket)

    def argv(self, cmd: Sequence[str]) -> list[str]:
        """A command line that runs `cmd` inside this namespace."""
        return ["ip", "netns", "exec", self.name, *cmd]

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


@dataclass(frozen=True)
class Endpoint:
    """One end of the simulated PLC link, as the process attached to it sees it."""

    netns: Netns
    ifname: str
    ifindex: int
    mac: str
    link_local: str

    def sockaddr(self, port: int) -> tuple[str, int, int, int]:
        """An AF_INET6 address tuple on this endpoint (numeric scope id, no name lookup)."""
        return (self.link_local, port, 0, self.ifindex)

    def plc_interface(self) -> PlcInterface:
        """This end as the transport layer wants it (sockets made inside the namespace)."""
        from josev.transport.iface import PlcInterface

        return PlcInterface(
            self.ifname, self.ifindex, ipaddress.IPv6Address(self.link_local), self.netns.socket
        )

    def describe(self) -> dict[str, str | int]:
        return {
            "netns": self.netns.name,
            "interface": self.ifname,
            "ifindex": self.ifindex,
            "mac": self.mac,
            "link_local": self.link_local,
        }


@dataclass
class Link:
    """An EVSE namespace and one or more EV namespaces on one simulated PLC medium.

    One EV: a direct veth pair. Several EVs: a bridge in a third namespace (the "medium"),
    so every station hears every broadcast, as on a shared power line.
    """

    tag: str
    evse: Endpoint
    evs: list[Endpoint]
    namespaces: list[Netns] = field(default_factory=list)
    _closed: bool = False

    @property
    def ev(self) -> Endpoint:
        return self.evs[0]

    @classmethod
    def create(cls, evs: int = 1, tag: str | None = None) -> Link:
        """Create the namespaces and links; raises NamespaceUnavailable when not possible."""
        if evs < 1:
            raise ValueError("a link needs at least one EV end")
        if shutil.which("ip") is None:
            raise NamespaceUnavailable("iproute2 ('ip') is not installed")
        if os.geteuid() != 0:
            raise NamespaceUnavailable(unavailable_reason() or "not root")
        tag = tag or secrets.token_hex(3)
        if not tag.isalnum() or len(tag) > 8:
            raise ValueError("tag must be at most 8 letters or digits")
        names = [f"jv-{tag}-evse"] + [f"jv-{tag}-ev{i}" for i in range(evs)]
        ifnames = [f"jv{tag}s"] + [f"jv{tag}e{i}" for i in range(evs)]
        macs = [random_mac() for _ in names]
        medium = f"jv-{tag}-plc" if evs > 1 else None
        created: list[str] = []
        try:
            for ns in [*names, *([medium] if medium else [])]:
                _ip(["netns", "add", ns])
                created.append(ns)
                # Before any interface exists there, so that each one inherits it: no DAD,
                # the link-local address is usable as soon as the link is up.
                Netns(ns).run_once(_no_dad)
            top: list[str] = []
            if medium is None:
                top.append(
                    f"link add {ifnames[0]} netns {names[0]} address {macs[0]} type veth "
                    f"peer name {ifnames[1]} netns {names[1]} address {macs[1]}"
                )
            else:
                for i, (ns, ifn, mac) in enumerate(zip(names, ifnames, macs, strict=True)):
                    top.append(
                        f"link add {ifn} netns {ns} address {mac} type veth "
                        f"peer name p{i} netns {medium}"
                    )
            _ip([], "\n".join(top) + "\n")
            if medium is not None:
                cmds = ["link set lo up", "link add br0 type bridge stp_state 0 mcast_snooping 0"]
                for i in range(len(names)):
                    cmds += [f"link set p{i} master br0", f"link set p{i} up"]
                cmds.append("link set br0 up")
                _ip(["-n", medium], "\n".join(cmds) + "\n")
            for ns, ifn in zip(names, ifnames, strict=True):
                _ip(["-n", ns], f"link set lo up\nlink set dev {ifn} addrgenmode none up\n")
            # The address is set by hand (the kernel would derive the same one) because the
            # kernel only adds it once the carrier event has passed its link watcher, which
            # batches events for up to a second. It must come after "up": added to a down
            # interface it leaves multicast unroutable.
            for ns, ifn, mac in zip(names, ifnames, macs, strict=True):
                _ip(["-n", ns], f"addr add {eui64_link_local(mac)}/64 dev {ifn} nodad\n")
        except BaseException:
            for ns in created:
                with contextlib.suppress(NamespaceUnavailable):
                    _ip(["netns", "del", ns])
            raise
        netns = [Netns(n) for n in names]
        endpoints = [
            Endpoint(n, ifn, n.if_nametoindex(ifn), mac, n.run(_wait_link_local, ifn, mac))
            for n, ifn, mac in zip(netns, ifnames, macs, strict=True)
        ]
        extra = [Netns(medium)] if medium else []
        link = cls(tag, endpoints[0], endpoints[1:], [*netns, *extra])
        log.info("simulated PLC link %s up: %s", tag, link.describe())
        return link

    def describe(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "evse": self.evse.describe(),
            "evs": [e.describe() for e in self.evs],
        }

    def close(self) -> None:
        """Delete the namespaces (which deletes the links)."""
        if self._closed:
            return
        self._closed = True
        for ns in self.namespaces:
            ns.close()
            with contextlib.suppress(NamespaceUnavailable):
                _ip(["netns", "del", ns.name])

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def destroy(tag: str) -> list[str]:
    """Delete every namespace of a link made by `josev link up` (by its tag)."""
    removed = []
    if NETNS_RUN_DIR.is_dir():
        for p in NETNS_RUN_DIR.iterdir():
            if p.name.startswith(f"jv-{tag}-"):
                _ip(["netns", "del", p.name])
                removed.append(p.name)
    return removed


def userns_argv(cmd: Sequence[str]) -> list[str]:
    """Re-run `cmd` as the mapped root of new user, mount and net namespaces (no real root).

    /run is replaced by a private tmpfs inside the mount namespace so that ``ip netns add``
    can create /run/netns; the host's /run is untouched.
    """
    script = 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$@"'
    return ["unshare", "--user", "--map-root-user", "--mount", "--net", "--fork",
            "sh", "-c", script, "sh", *cmd]
