"""Fixtures shared by every suite: a real mosquitto on a free loopback port, and the simulated
PLC link (network namespaces joined by veth; the only acceptable skip is 'no namespaces here')."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from josev import netsim
from tests.broker import Broker
from tests.requirements import require_netns


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A fresh broker per test (no crosstalk between tests); `.stop()`/`.start()` restart it."""
    broker = Broker(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def make_link() -> Iterator[Callable[..., netsim.Link]]:
    require_netns()
    links: list[netsim.Link] = []

    def make(evs: int = 1) -> netsim.Link:
        link = netsim.Link.create(evs=evs)
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


@pytest.fixture
def link(make_link: Callable[..., netsim.Link]) -> netsim.Link:
    return make_link()
