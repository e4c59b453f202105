"""Fixtures for the simulated PLC link; the only acceptable skip is 'no namespaces here'."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from josev import netsim


@pytest.fixture
def make_link() -> Iterator[Callable[..., netsim.Link]]:
    reason = netsim.unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
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
