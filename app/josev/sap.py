"""SupportedAppProtocol negotiation (ISO 15118-2 clause 8.2 / DIN 70121 / ISO 15118-20 8.3.2).

Both sides, sans-I/O. The EV lists the protocols it speaks with a priority (1 = best) and a
SchemaID; the SECC picks one it enables. Which priority wins is configurable on the SECC:
`prefer="ev"` (the standard's default: the EV's priority decides among the protocols both
support) or `prefer="secc"` (the station's own order decides, e.g. to steer EVs to -20).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from josev.exi.generated.appHand import (
    AppProtocolType,
    supportedAppProtocolReq,
    supportedAppProtocolRes,
)


@dataclass(frozen=True, slots=True)
class AppProtocol:
    name: str          # our short name: DIN, ISO2, ISO20_DC, ISO20_AC
    namespace: str
    major: int
    minor: int


PROTOCOLS: dict[str, AppProtocol] = {
    p.name: p
    for p in (
        AppProtocol("DIN", "urn:din:70121:2012:MsgDef", 2, 0),
        AppProtocol("ISO2", "urn:iso:15118:2:2013:MsgDef", 2, 0),
        AppProtocol("ISO20_DC", "urn:iso:std:iso:15118:-20:DC", 1, 0),
        AppProtocol("ISO20_AC", "urn:iso:std:iso:15118:-20:AC", 1, 0),
    )
}
BY_NAMESPACE = {p.namespace: p for p in PROTOCOLS.values()}

Prefer = Literal["ev", "secc"]


class SapError(ValueError):
    """A protocol name outside PROTOCOLS in a configuration."""


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    bad = [n for n in names if n not in PROTOCOLS]
    if bad:
        raise SapError(f"unknown protocol(s) {', '.join(bad)}; known: {', '.join(PROTOCOLS)}")
    if not names:
        raise SapError("no protocol enabled")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Negotiated:
    protocol: AppProtocol | None
    schema_id: int | None
    response: supportedAppProtocolRes


def secc_negotiate(
    req: supportedAppProtocolReq, enabled: Sequence[str], prefer: Prefer = "ev"
) -> Negotiated:
    """The SECC's choice. A major version we know with another minor is accepted with
    OK_SuccessfulNegotiationWithMinorDeviation; another major is not ours."""
    order = {name: i for i, name in enumerate(enabled)}
    candidates: list[tuple[tuple[int, int], AppProtocol, AppProtocolType]] = []
    for offer in req.AppProtocol:
        ours = BY_NAMESPACE.get(offer.ProtocolNamespace)
        if ours is None or ours.name not in order or offer.VersionNumberMajor != ours.major:
            continue
        rank = (
            (offer.Priority, order[ours.name])
            if prefer == "ev"
            else (order[ours.name], offer.Priority)
        )
        candidates.append((rank, ours, offer))
    if not candidates:
        return Negotiated(None, None, supportedAppProtocolRes(ResponseCode="Failed_NoNegotiation"))
    _, ours, offer = min(candidates, key=lambda c: c[0])
    code = (
        "OK_SuccessfulNegotiation"
        if offer.VersionNumberMinor == ours.minor
        else "OK_SuccessfulNegotiationWithMinorDeviation"
    )
    return Negotiated(
        ours, offer.SchemaID, supportedAppProtocolRes(ResponseCode=code, SchemaID=offer.SchemaID)
    )


def evcc_request(offers: Sequence[str]) -> supportedAppProtocolReq:
    """The EV's offer: priority = position in `offers` (1 = first), SchemaID 1..n likewise."""
    names = check_names(offers)
    return supportedAppProtocolReq(
        AppProtocol=[
            AppProtocolType(
                ProtocolNamespace=PROTOCOLS[n].namespace,
                VersionNumberMajor=PROTOCOLS[n].major,
                VersionNumberMinor=PROTOCOLS[n].minor,
                SchemaID=i,
                Priority=i,
            )
            for i, n in enumerate(names, 1)
        ]
    )


def evcc_result(req: supportedAppProtocolReq, res: supportedAppProtocolRes) -> AppProtocol | None:
    """The protocol the SECC chose, or None (failed negotiation or a SchemaID we never sent)."""
    if res.ResponseCode == "Failed_NoNegotiation" or res.SchemaID is None:
        return None
    for offer in req.AppProtocol:
        if offer.SchemaID == res.SchemaID:
            return BY_NAMESPACE.get(offer.ProtocolNamespace)
    return None
