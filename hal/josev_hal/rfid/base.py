"""The card-reader interface: an async stream of presented cards."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CardTap:
    uid: str  # upper-case hex without separators (ISO14443 UID) or the typed digits
    reader: str  # which reader saw it, for the log


class CardReader(abc.ABC):
    @abc.abstractmethod
    def taps(self) -> AsyncIterator[CardTap]:
        """Presented cards, one CardTap each, until the reader is closed."""

    async def close(self) -> None:
        """Release the device."""
        return None
