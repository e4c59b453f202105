"""The simulated PLC link itself: addresses usable at once, multicast, isolation, clean-up."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from josev import netsim
from tests.requirements import require_netns, require_tools

pytestmark = pytest.mark.netns


def _udp(ep: netsim.Endpoint, port: int) -> socket.socket:
    s = ep.netns.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.bind(ep.sockaddr(port))
    return s


def test_unicast_across_the_veth_at_once(link: netsim.Link) -> None:
    server = _udp(link.evse, 40000)
    client = _udp(link.ev, 0)
    client.sendto(b"ping", link.evse.sockaddr(40000))
    data, addr = server.recvfrom(16)
    assert data == b"ping"
    assert addr[0] == link.ev.link_local


def test_all_nodes_multicast_reaches_the_other_end(link: netsim.Link) -> None:
    server = link.evse.netns.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    server.settimeout(5)
    server.bind(("ff02::1", 40001, 0, link.evse.ifindex))
    client = _udp(link.ev, 0)
    client.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, link.ev.ifindex)
    client.sendto(b"hello", ("ff02::1", 40001, 0, link.ev.ifindex))
    assert server.recvfrom(16)[0] == b"hello"


def test_namespaces_are_isolated_from_the_host(link: netsim.Link) -> None:
    names = socket.if_nameindex()
    assert link.evse.ifname not in {n for _, n in names}
    assert link.evse.netns.run(socket.if_nameindex) != names


def test_bridge_with_three_ends_floods_multicast(make_link: Callable[..., netsim.Link]) -> None:
    link = make_link(evs=2)
    receivers = []
    for ep in link.evs:
        r = ep.netns.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        r.settimeout(5)
        r.bind(("ff02::1", 40002, 0, ep.ifindex))
        receivers.append(r)
    sender = _udp(link.evse, 0)
    sender.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, link.evse.ifindex)
    sender.sendto(b"x", ("ff02::1", 40002, 0, link.evse.ifindex))
    for r in receivers:
        assert r.recvfrom(4)[1][0] == link.evse.link_local


def test_external_process_attaches_with_ip_netns_exec(link: netsim.Link) -> None:
    server = _udp(link.evse, 40003)
    code = (
        "import socket,sys; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM);"
        "s.sendto(b'ext', (sys.argv[1], 40003, 0, socket.if_nametoindex(sys.argv[2])))"
    )
    argv = link.ev.netns.argv([sys.executable, "-c", code, link.evse.link_local, link.ev.ifname])
    subprocess.run(argv, check=True, timeout=30)
    assert server.recvfrom(8)[0] == b"ext"


def test_close_removes_the_namespaces(make_link: Callable[..., netsim.Link]) -> None:
    link = make_link()
    paths = [ns.path for ns in link.namespaces]
    assert all(p.exists() for p in paths)
    link.close()
    assert not any(Path(p).exists() for p in paths)


def test_cli_up_and_down() -> None:
    require_netns()
    import secrets

    from josev.cli import main

    tag = "c" + secrets.token_hex(3)  # unique: other suites may run at the same time
    assert main(["link", "up", "--tag", tag]) == 0
    try:
        assert (netsim.NETNS_RUN_DIR / f"jv-{tag}-ev0").exists()
    finally:
        assert main(["link", "down", tag]) == 0
    assert not (netsim.NETNS_RUN_DIR / f"jv-{tag}-ev0").exists()


def test_eui64() -> None:
    assert netsim.eui64_link_local("00:11:22:33:44:55") == "fe80::211:22ff:fe33:4455"


def test_ordinary_user_gets_a_link_through_user_namespaces() -> None:
    """`josev link run` semantics as uid 65534: unshare -Urnm, then Link.create works."""
    import os
    import shutil

    py = "/usr/bin/python3"  # the system interpreter: readable by any user
    require_tools("unshare", package="util-linux")
    assert os.path.exists(py), f"{py} missing: the system Python runs as the ordinary user"
    # A world-readable copy of the two modules needed: the checkout may sit under a 0700 home.
    import tempfile

    app = tempfile.mkdtemp(prefix="josev-userns-")
    os.chmod(app, 0o755)
    src = Path(netsim.__file__).resolve().parent
    (Path(app) / "josev" / "netsim").mkdir(parents=True)
    shutil.copy(src.parent / "__init__.py", Path(app) / "josev" / "__init__.py")
    shutil.copy(src / "__init__.py", Path(app) / "josev" / "netsim" / "__init__.py")
    for d in (Path(app) / "josev", Path(app) / "josev" / "netsim"):
        os.chmod(d, 0o755)
    code = (
        "import socket\nfrom josev.netsim import Link\n"
        "with Link.create() as l:\n"
        "    s = l.evse.netns.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
        "    s.bind(l.evse.sockaddr(40100)); s.settimeout(5)\n"
        "    c = l.ev.netns.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
        "    c.sendto(b'user', l.evse.sockaddr(40100)); print(s.recvfrom(8)[0].decode())\n"
    )
    argv = netsim.userns_argv([py, "-c", code])
    if os.geteuid() == 0:
        require_tools("setpriv", package="util-linux")
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": app, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                         check=False)
    shutil.rmtree(app)
    # A kernel that refuses user namespaces to ordinary users fails here, as the feature would.
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "user"


def test_plc_interface_lookup_inside_the_namespace(link: netsim.Link) -> None:
    """How the production service finds its PLC interface (it runs inside the namespace)."""
    app = Path(netsim.__file__).resolve().parents[2]
    code = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from josev.transport.iface import PlcInterface, InterfaceError\n"
        "i = PlcInterface.lookup(sys.argv[1]); print(i.index, i.link_local)\n"
        "try:\n    PlcInterface.lookup('nope0')\nexcept InterfaceError as e:\n    print(e)\n"
    )
    out = subprocess.run(link.ev.netns.argv([sys.executable, "-c", code, link.ev.ifname,
                                             str(app)]),
                         capture_output=True, text=True, check=True, timeout=60).stdout
    first, second = out.splitlines()
    assert first == f"{link.ev.ifindex} {link.ev.link_local}"
    assert "'nope0' not found" in second


def test_cli_charger_and_ev_across_the_link(link: netsim.Link, tmp_path: Path) -> None:
    """`josev link secc` in the EVSE namespace, `josev link ev` in the EV namespace: SLAC,
    SDP, TLS 1.3 and one supportedAppProtocol exchange, as a person would run them."""
    from josev.pki import create_pki

    store = create_pki(tmp_path / "pki")
    josev = [sys.executable, "-m", "josev.cli"]
    secc = subprocess.Popen(
        link.evse.netns.argv([*josev, "link", "secc", "--interface", link.evse.ifname,
                              "--store", str(store), "--slac", "--count", "1"]),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ev = subprocess.run(
            link.ev.netns.argv([*josev, "link", "ev", "--interface", link.ev.ifname,
                                "--store", str(store), "--profile", "iso20", "--slac"]),
            capture_output=True, text=True, timeout=90, check=False)
        assert ev.returncode == 0, ev.stdout + ev.stderr
        out = secc.communicate(timeout=30)[0]
    finally:
        if secc.poll() is None:
            secc.kill()
    assert f"SLAC matched EVSE {link.evse.mac}" in ev.stdout
    assert "TLSv1.3 TLS_AES_256_GCM_SHA384" in ev.stdout
    assert "'ResponseCode': 'OK_SuccessfulNegotiation', 'SchemaID': 1" in ev.stdout
    assert "SLAC: Matched" in out and "V2GTP 0x8001" in out


def test_netns_plc_interface_by_name(link: netsim.Link) -> None:
    """A process outside the namespace gets the same view as the Endpoint, by names only."""
    from josev.transport.iface import InterfaceError

    ns = netsim.Netns(link.evse.netns.name)
    try:
        iface = ns.plc_interface(link.evse.ifname)
        assert (iface.index, str(iface.link_local)) == (link.evse.ifindex, link.evse.link_local)
        s = iface.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(iface.sockaddr(0))  # only possible inside the namespace
        s.close()
        with pytest.raises(InterfaceError, match="nope0"):
            ns.plc_interface("nope0")
    finally:
        ns.close()  # its thread would otherwise keep the namespace alive
