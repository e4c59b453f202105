"""Property tests: random valid messages of every global element of every family.

Messages are drawn by a random walk over each type's grammar (so they are valid by
construction, including choices, substitution groups and list bounds) using the table-driven
reference codec. Then: the generated straight-line codec must produce the same bytes from the
same JSON, and decoding those bytes must give the same JSON back.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from josev import exi
from josev.exi import runtime as rt

from .conftest import FAMILIES, reference_family, vectors

_TEXT = st.characters(exclude_categories=["Cs"])


def _simple(data: st.DataObject, s: rt.Simple) -> Any:
    k = s.kind
    if k in ("nbit", "uint", "int"):
        lo = s.min if s.min is not None else -(2**80)
        hi = s.max if s.max is not None else 2**80
        return data.draw(st.integers(lo, hi))
    if k == "bool":
        return data.draw(st.booleans())
    if k == "enum":
        return data.draw(st.sampled_from(s.enum))
    lo_len = s.min_len or 0
    hi_len = max(lo_len, min(s.max_len if s.max_len is not None else 24, 24))
    if k == "string":
        return data.draw(st.text(_TEXT, min_size=lo_len, max_size=hi_len))
    return data.draw(st.binary(min_size=lo_len, max_size=hi_len))


def _value(data: st.DataObject, codec: rt.Complex | rt.Simple, budget: list[int]) -> Any:
    """Random walk over the grammar; `budget` caps the number of values per message so that
    nested lists cannot explode (once spent, the walk ends every element as soon as it can)."""
    if isinstance(codec, rt.Simple):
        return _simple(data, codec)
    vals: list[Any] = [[] if f.many else None for f in codec.fields]
    s = 0
    while True:
        _w, _n, prods = codec.states[s]
        usable = [p for p in prods if p[0] != rt.UNSUPPORTED]
        can_end = any(p[0] == rt.EE for p in usable)
        moves = [p for p in usable if p[0] >= 0]
        if not moves or (can_end and (budget[0] <= 0 or data.draw(st.booleans()))):
            assert can_end, codec.name
            break
        budget[0] -= 1
        fi, mi, s = data.draw(st.sampled_from(moves))
        f = codec.fields[fi]
        x = _value(data, f.members[mi].codec, budget)
        if f.many:
            vals[fi].append(x)
        else:
            vals[fi] = x
    obj: Any = object.__new__(codec.cls)
    for f, x in zip(codec.fields, vals, strict=True):
        object.__setattr__(obj, f.name, x)
    return obj


def _representable(codec: rt.Complex | rt.Simple, memo: dict[int, bool]) -> bool:
    """Can a valid instance be built without wildcard/mixed content (unsupported)?"""
    if isinstance(codec, rt.Simple):
        return True
    if id(codec) in memo:
        return memo[id(codec)]
    memo[id(codec)] = False  # no recursion in these schemas; be safe anyway
    ok_states: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, (_w, _n, prods) in enumerate(codec.states):
            if i in ok_states:
                continue
            for fi, mi, t in prods:
                if fi == rt.EE or (fi >= 0 and t in ok_states and _representable(
                        codec.fields[fi].members[mi].codec, memo)):
                    ok_states.add(i)
                    changed = True
                    break
    memo[id(codec)] = 0 in ok_states
    return memo[id(codec)]


def _roots(messages_only: bool) -> list[tuple[str, str]]:
    out = []
    for fam in FAMILIES:
        ref = reference_family(fam)
        names = {v["message"] for v in vectors(fam)}
        memo: dict[int, bool] = {}
        for m in ref.doc:
            if messages_only and m.name not in names:
                continue
            if _representable(m.codec, memo):
                out.append((fam, m.name))
    return out


def test_only_wildcard_elements_are_not_representable() -> None:
    for fam in FAMILIES:
        ref = reference_family(fam)
        memo: dict[int, bool] = {}
        bad = {m.name for m in ref.doc if not _representable(m.codec, memo)}
        want = set() if fam == "appHand" else {"SignatureProperty", "SignatureProperties"}
        assert bad == want, (fam, bad)
    assert len(_roots(True)) == 130  # every message type of the vector corpus


def _check(family: str, root: str, data: st.DataObject) -> None:
    ref = reference_family(family)
    member = ref.doc[ref.doc_index[root]]
    value = _value(data, member.codec, [data.draw(st.integers(5, 60))])
    ref_bytes = ref.encode(root, value)
    as_json = ref.to_json(root, value)
    gen = exi.family(family)
    root2, msg = gen.from_json(as_json)
    assert gen.encode(root2, msg) == ref_bytes
    root3, back = gen.decode(ref_bytes)
    assert root3 == root
    assert back == msg
    assert gen.to_json(root3, back) == as_json
    r4, again = ref.decode(ref_bytes)
    assert ref.to_json(r4, again) == as_json


_COMMON = dict(deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.large_base_example])


@pytest.mark.parametrize(("family", "root"), _roots(messages_only=True))
@settings(max_examples=4, **_COMMON)  # type: ignore[arg-type]
@given(data=st.data())
def test_round_trip_every_message_type(family: str, root: str, data: st.DataObject) -> None:
    _check(family, root, data)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "root"), _roots(messages_only=False))
@settings(max_examples=60, **_COMMON)  # type: ignore[arg-type]
@given(data=st.data())
def test_round_trip_every_global_element_long(family: str, root: str,
                                              data: st.DataObject) -> None:
    _check(family, root, data)
