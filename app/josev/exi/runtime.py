"""Run-time support shared by the generated per-family modules.

Bit I/O works on one Python int: the decoder turns the whole stream into an int once and reads
fields with shifts and masks, counting `q` = bits still unread (a negative shift raises
ValueError, which the top level turns into "truncated"); the encoder appends fields with
`acc = (acc << n) | value` and converts to bytes once. This is much faster in CPython than a
byte/bit cursor object.

The table-driven interpreter (`dec_ct`/`enc_ct`) covers every content model. The generator
also emits straight-line code for the common "flat sequence" types; both agree by construction
and the tests compare them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, NoReturn


class ExiError(Exception):
    """Any failure to decode or encode: `reason` says what, `bit_position` says where
    (bits from the start of the stream; -1 for encoding errors, which name the field)."""

    def __init__(self, reason: str, bit_position: int = -1) -> None:
        super().__init__(f"{reason} (at bit {bit_position})" if bit_position >= 0 else reason)
        self.reason = reason
        self.bit_position = bit_position


class DecodeFail(Exception):
    """Internal: raised deep in decoding with `q` = unread bits; converted to ExiError."""

    def __init__(self, reason: str, q: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.q = q


class EncodeFail(Exception):
    """Internal: a value cannot be encoded (outside the schema facets, wrong type, ...)."""


# -- primitive readers (v = stream as int, q = unread bits) -------------------------------------


def r_uint(v: int, q: int) -> tuple[int, int]:
    """EXI unsigned integer: 7-bit groups, least significant first, high bit = more follows."""
    q -= 8
    b = (v >> q) & 255
    if b < 128:
        return b, q
    x = b & 127
    s = 7
    while True:
        q -= 8
        b = (v >> q) & 255
        x |= (b & 127) << s
        if b < 128:
            return x, q
        s += 7


def r_uint_more(v: int, q: int, b: int, s: int = 7) -> tuple[int, int]:
    """Continue an unsigned integer: `b` holds the value of the groups already read (for
    s == 7, the first byte itself, continuation bit included), `s` how many bits they gave."""
    x = b & ((1 << s) - 1)
    while True:
        q -= 8
        b = (v >> q) & 255
        x |= (b & 127) << s
        if b < 128:
            return x, q
        s += 7


def r_int(v: int, q: int) -> tuple[int, int]:
    q -= 1
    neg = (v >> q) & 1
    m, q = r_uint(v, q)
    return (-m - 1 if neg else m), q


def r_string(v: int, q: int) -> tuple[str, int]:
    n, q = r_uint(v, q)
    if n < 2:
        raise DecodeFail("string table reference, but the V2G profile has no string table", q)
    n -= 2
    if n * 8 > q:
        raise DecodeFail(f"string length {n} exceeds the remaining input", q)
    if n == 0:
        return "", q
    bs = ((v >> (q - 8 * n)) & ((1 << (8 * n)) - 1)).to_bytes(n, "big")
    if bs.isascii():
        return bs.decode("ascii"), q - 8 * n
    chars = []
    for _ in range(n):
        c, q = r_uint(v, q)
        if c > 0x10FFFF:
            raise DecodeFail(f"code point {c:#x} out of range", q)
        chars.append(chr(c))
    return "".join(chars), q


def r_binary(v: int, q: int) -> tuple[bytes, int]:
    n, q = r_uint(v, q)
    if n * 8 > q:
        raise DecodeFail(f"binary length {n} exceeds the remaining input", q)
    q -= 8 * n
    return ((v >> q) & ((1 << (8 * n)) - 1)).to_bytes(n, "big"), q


# -- primitive writers (a = accumulator int) ---------------------------------------------------


def w_uint(x: int, a: int) -> int:
    if x < 128:
        return (a << 8) | x
    while x >= 128:
        a = (a << 8) | 128 | (x & 127)
        x >>= 7
    return (a << 8) | x


def w_int(x: int, a: int) -> int:
    if x < 0:
        return w_uint(-x - 1, (a << 1) | 1)
    return w_uint(x, a << 1)


def w_string(s: str, a: int) -> int:
    if s.isascii():
        n = len(s)
        a = w_uint(n + 2, a)
        return (a << (8 * n)) | int.from_bytes(s.encode("ascii"), "big") if n else a
    a = w_uint(len(s) + 2, a)
    for ch in s:
        a = w_uint(ord(ch), a)
    return a


def w_binary(b: bytes, a: int) -> int:
    n = len(b)
    a = w_uint(n, a)
    return (a << (8 * n)) | int.from_bytes(b, "big") if n else a


# -- simple types -----------------------------------------------------------------------------


class Simple:
    """A simple type: how its value is coded in EXI and checked against the facets."""

    __slots__ = ("enum", "enum_index", "json_kind", "kind", "max", "max_len", "min",
                 "min_len", "name", "nbits")

    def __init__(self, name: str, kind: str, lo: int | None = None, hi: int | None = None,
                 min_len: int | None = None, max_len: int | None = None,
                 enum: tuple[str, ...] = (), json_kind: str = "") -> None:
        # kind: bool | nbit | uint | int | string | hex | base64 | enum
        self.name = name
        self.kind = kind
        self.min = lo
        self.max = hi
        self.min_len = min_len
        self.max_len = max_len
        self.enum = enum
        self.enum_index = {e: i for i, e in enumerate(enum)}
        self.json_kind = json_kind or kind
        if kind == "nbit":
            assert lo is not None and hi is not None
            self.nbits = (hi - lo).bit_length()
        elif kind == "enum":
            self.nbits = (len(enum) - 1).bit_length()
        else:
            self.nbits = 0

    def dec(self, v: int, q: int) -> tuple[Any, int]:
        k = self.kind
        if k == "nbit":
            q -= self.nbits
            x = ((v >> q) & ((1 << self.nbits) - 1)) + self.min  # type: ignore[operator]
            if x > self.max:  # type: ignore[operator]
                raise DecodeFail(f"{self.name}: value {x} above maximum {self.max}", q)
            return x, q
        if k == "uint":
            x, q = r_uint(v, q)
            self._check_range(x, q)
            return x, q
        if k == "int":
            x, q = r_int(v, q)
            self._check_range(x, q)
            return x, q
        if k == "bool":
            q -= 1
            return (v >> q) & 1 == 1, q
        if k == "enum":
            q -= self.nbits
            i = (v >> q) & ((1 << self.nbits) - 1)
            if i >= len(self.enum):
                raise DecodeFail(f"{self.name}: enumeration index {i} out of range", q)
            return self.enum[i], q
        if k == "string":
            s, q = r_string(v, q)
            self._check_len(len(s), q)
            return s, q
        b, q = r_binary(v, q)
        self._check_len(len(b), q)
        return b, q

    def _check_range(self, x: int, q: int) -> None:
        if (self.min is not None and x < self.min) or (self.max is not None and x > self.max):
            raise DecodeFail(f"{self.name}: value {x} outside [{self.min}, {self.max}]", q)

    def _check_len(self, n: int, q: int) -> None:
        if (self.min_len is not None and n < self.min_len) or (
                self.max_len is not None and n > self.max_len):
            raise DecodeFail(f"{self.name}: length {n} outside [{self.min_len}, {self.max_len}]",
                             q)

    def check(self, x: Any) -> None:
        """Refuse a value the schema does not allow (type and facets)."""
        if x is None:
            raise EncodeFail(f"{self.name}: required value is missing (None)")
        k = self.kind
        if k in ("nbit", "uint", "int"):
            if type(x) is not int:
                raise EncodeFail(f"{self.name}: expected an integer, got {x!r}")
            if (self.min is not None and x < self.min) or (self.max is not None and x > self.max):
                raise EncodeFail(f"{self.name}: {x} outside [{self.min}, {self.max}]")
        elif k == "bool":
            if type(x) is not bool:
                raise EncodeFail(f"{self.name}: expected a boolean, got {x!r}")
        elif k == "enum":
            if x not in self.enum_index:
                raise EncodeFail(f"{self.name}: {x!r} is not one of {', '.join(self.enum)}")
        elif k == "string":
            if type(x) is not str:
                raise EncodeFail(f"{self.name}: expected a string, got {x!r}")
            self._check_len_enc(len(x))
        else:
            if type(x) is not bytes:
                raise EncodeFail(f"{self.name}: expected bytes, got {type(x).__name__}")
            self._check_len_enc(len(x))

    def fail(self, x: Any) -> NoReturn:
        """Raise the specific error for a value the fast path found invalid."""
        self.check(x)
        raise EncodeFail(f"{self.name}: {x!r} not allowed")

    def _check_len_enc(self, n: int) -> None:
        if (self.min_len is not None and n < self.min_len) or (
                self.max_len is not None and n > self.max_len):
            raise EncodeFail(f"{self.name}: length {n} outside [{self.min_len}, {self.max_len}]")

    def enc(self, x: Any, a: int) -> int:
        self.check(x)
        k = self.kind
        if k == "nbit":
            off: int = x - self.min
            return (a << self.nbits) | off
        if k == "uint":
            return w_uint(x, a)
        if k == "int":
            return w_int(x, a)
        if k == "bool":
            return (a << 1) | (1 if x else 0)
        if k == "enum":
            return (a << self.nbits) | self.enum_index[x]
        if k == "string":
            return w_string(x, a)
        return w_binary(x, a)

    # JSON convention of FORMAT.md
    def to_json(self, x: Any) -> Any:
        if self.kind == "hex":
            return bytes(x).hex().upper()
        if self.kind == "base64":
            return base64.b64encode(x).decode("ascii")
        return x

    def from_json(self, x: Any) -> Any:
        try:
            if self.kind == "hex":
                return bytes.fromhex(x)
            if self.kind == "base64":
                return base64.b64decode(x, validate=True)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise EncodeFail(f"{self.name}: bad {self.kind} value {x!r}: {exc}") from None
        return x


# -- message classes -----------------------------------------------------------------------


class Message:
    """Base of the generated message classes: slotted, compared and printed field by field."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        names: tuple[str, ...] = type(self).__slots__
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __hash__(self) -> int:
        raise TypeError(f"{type(self).__name__} is mutable and not hashable")

    def __repr__(self) -> str:
        parts = []
        names: tuple[str, ...] = type(self).__slots__
        for n in names:
            x = getattr(self, n, None)
            if x is not None and x != []:
                parts.append(f"{n}={x!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


# -- complex types: the table-driven grammar interpreter --------------------------------------

EE = -1
UNSUPPORTED = -2


class Member:
    """One element name a field can hold (several for substitution groups)."""

    __slots__ = ("codec", "name")

    def __init__(self, name: str, codec: Complex | Simple) -> None:
        self.name = name
        self.codec = codec


class Field:
    __slots__ = ("by_class", "is_attr", "many", "members", "name", "required")

    def __init__(self, name: str, is_attr: bool, many: bool, required: bool,
                 members: tuple[Member, ...]) -> None:
        self.name = name
        self.is_attr = is_attr
        self.many = many
        self.required = required
        self.members = members
        self.by_class: dict[type, int] = {}


class Complex:
    """A complex type: its Python class, fields, and grammar states.

    states[i] = (width, number of first-level productions, productions); a production is
    (field index or EE/UNSUPPORTED, member index, next state). enc[i] maps (field, member) to
    (event code, next state) for the encoder.
    """

    __slots__ = ("cls", "dec_fn", "enc", "enc_fn", "fields", "name", "states")

    def __init__(self, name: str) -> None:
        self.name = name
        self.cls: type = object
        self.fields: tuple[Field, ...] = ()
        self.states: tuple[tuple[int, int, tuple[tuple[int, int, int], ...]], ...] = ()
        self.enc: tuple[dict[tuple[int, int], tuple[int, int]], ...] = ()
        self.dec_fn: Callable[[int, int], tuple[Any, int]] | None = None
        self.enc_fn: Callable[[Any, int], int] | None = None

    def setup(self, cls: type, fields: tuple[Field, ...],
              states: tuple[tuple[int, int, tuple[tuple[int, int, int], ...]], ...]) -> None:
        self.cls = cls
        self.fields = fields
        self.states = states
        enc: list[dict[tuple[int, int], tuple[int, int]]] = []
        for _w, _n, prods in states:
            d: dict[tuple[int, int], tuple[int, int]] = {}
            for code, (fi, mi, tgt) in enumerate(prods):
                if fi != UNSUPPORTED:
                    d[(fi, mi)] = (code, tgt)
            enc.append(d)
        self.enc = tuple(enc)

    def link(self) -> None:
        """Index members by Python class (call once every type has its class)."""
        for f in self.fields:
            for i, m in enumerate(f.members):
                if isinstance(m.codec, Complex):
                    f.by_class[m.codec.cls] = i

    def dec(self, v: int, q: int) -> tuple[Any, int]:
        if self.dec_fn is not None:
            return self.dec_fn(v, q)
        return dec_ct(self, v, q)

    def enc_value(self, x: Any, a: int) -> int:
        if self.enc_fn is not None:
            return self.enc_fn(x, a)
        return enc_ct(self, x, a)


def dec_simple_element(codec: Simple, v: int, q: int) -> tuple[Any, int]:
    """An element of simple type: CH (1 bit, must be 0), the value, EE (1 bit, must be 0)."""
    q -= 1
    if (v >> q) & 1:
        raise DecodeFail(f"{codec.name}: unsupported second-level event", q)
    x, q = codec.dec(v, q)
    q -= 1
    if (v >> q) & 1:
        raise DecodeFail(f"{codec.name}: unsupported second-level event", q)
    return x, q


def dec_member(m: Member, v: int, q: int) -> tuple[Any, int]:
    c = m.codec
    if isinstance(c, Simple):
        return dec_simple_element(c, v, q)
    return c.dec(v, q)


def enc_member(m: Member, x: Any, a: int) -> int:
    c = m.codec
    if isinstance(c, Simple):
        return c.enc(x, a << 1) << 1
    return c.enc_value(x, a)


def dec_ct(ct: Complex, v: int, q: int) -> tuple[Any, int]:
    fields = ct.fields
    vals: list[Any] = [[] if f.many else None for f in fields]
    s = 0
    states = ct.states
    while True:
        w, n, prods = states[s]
        q -= w
        c = (v >> q) & ((1 << w) - 1)
        if c >= n:
            raise DecodeFail(f"{ct.name}: unsupported second-level event (code {c})", q)
        fi, mi, s = prods[c]
        if fi < 0:
            if fi == EE:
                break
            raise DecodeFail(f"{ct.name}: wildcard or mixed content is not supported", q)
        f = fields[fi]
        if f.is_attr or f.members[0].name == "#value":
            x, q = f.members[mi].codec.dec(v, q)
        else:
            x, q = dec_member(f.members[mi], v, q)
        if f.many:
            vals[fi].append(x)
        else:
            vals[fi] = x
    obj: Any = object.__new__(ct.cls)
    for f, x in zip(fields, vals, strict=True):
        object.__setattr__(obj, f.name, x)
    return obj, q


def enc_ct(ct: Complex, obj: Any, a: int) -> int:
    if type(obj) is not ct.cls:
        raise EncodeFail(f"expected {ct.name}, got {type(obj).__name__}")
    s = 0
    states = ct.states
    enc = ct.enc
    for fi, f in enumerate(ct.fields):
        x = getattr(obj, f.name)
        if x is None:
            continue
        if f.many:
            if not isinstance(x, list):
                raise EncodeFail(f"{ct.name}.{f.name}: expected a list")
            items = x
        else:
            items = [x]
        for item in items:
            if len(f.members) == 1:
                mi = 0
            else:
                mi = f.by_class.get(type(item), -1)
                if mi < 0:
                    raise EncodeFail(f"{ct.name}.{f.name}: {type(item).__name__} not allowed")
            p = enc[s].get((fi, mi))
            if p is None:
                raise EncodeFail(f"{ct.name}: {f.name} not allowed here (too many items, or a "
                                 "choice with two branches set)")
            a = (a << states[s][0]) | p[0]
            s = p[1]
            m = f.members[mi]
            if f.is_attr or m.name == "#value":
                c = m.codec
                assert isinstance(c, Simple)
                a = c.enc(item, a)
            else:
                a = enc_member(m, item, a)
    p = enc[s].get((EE, 0))
    if p is None:
        missing = [f.name for f in ct.fields if f.required]
        raise EncodeFail(f"{ct.name}: required content missing (required: {', '.join(missing)})")
    return (a << states[s][0]) | p[0]


# -- JSON convention (FORMAT.md) ----------------------------------------------------------------


def json_keys(ct: Complex) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for fi, f in enumerate(ct.fields):
        if f.is_attr or f.members[0].name == "#value":
            out[f.name if not f.is_attr else f.members[0].name] = (fi, 0)
        else:
            for mi, m in enumerate(f.members):
                out[m.name] = (fi, mi)
    return out


def value_to_json(codec: Complex | Simple, x: Any) -> Any:
    if isinstance(codec, Simple):
        return codec.to_json(x)
    out: dict[str, Any] = {}
    for f in codec.fields:
        val = getattr(x, f.name)
        if val is None or (f.many and not val):
            continue
        if f.is_attr or f.members[0].name == "#value":
            key = f.members[0].name if f.is_attr else "value"
            out[key] = f.members[0].codec.to_json(val)  # type: ignore[union-attr]
            continue
        if len(f.members) == 1:
            m = f.members[0]
            if f.many:
                out[m.name] = [value_to_json(m.codec, i) for i in val]
            else:
                out[m.name] = value_to_json(m.codec, val)
            continue
        for item in (val if f.many else [val]):
            mi = f.by_class.get(type(item), -1)
            if mi < 0:
                raise EncodeFail(f"{codec.name}.{f.name}: {type(item).__name__} not allowed")
            m = f.members[mi]
            j = value_to_json(m.codec, item)
            if f.many:
                out.setdefault(m.name, []).append(j)
            else:
                out[m.name] = j
    return out


def value_from_json(codec: Complex | Simple, j: Any, keys: dict[int, dict[str, tuple[int, int]]],
                    path: str = "") -> Any:
    if isinstance(codec, Simple):
        return codec.from_json(j)
    if not isinstance(j, dict):
        raise EncodeFail(f"{path or codec.name}: expected an object for {codec.name}")
    km = keys.get(id(codec))
    if km is None:
        km = keys[id(codec)] = json_keys(codec)
    vals: list[Any] = [[] if f.many else None for f in codec.fields]
    for key, item in j.items():
        hit = km.get(key)
        if hit is None:
            raise EncodeFail(f"{path}/{key}: not an element or attribute of {codec.name}")
        fi, mi = hit
        f = codec.fields[fi]
        m = f.members[mi]
        sub = f"{path}/{key}"
        if f.many:
            if not isinstance(item, list):
                raise EncodeFail(f"{sub}: expected an array")
            vals[fi].extend(value_from_json(m.codec, i, keys, sub) for i in item)
        else:
            if isinstance(item, list):
                raise EncodeFail(f"{sub}: expected a single value, not an array")
            if vals[fi] is not None:
                raise EncodeFail(f"{sub}: two branches of one choice given")
            vals[fi] = value_from_json(m.codec, item, keys, sub)
    obj: Any = object.__new__(codec.cls)
    for f, x in zip(codec.fields, vals, strict=True):
        object.__setattr__(obj, f.name, x)
    return obj


# -- documents and fragments ------------------------------------------------------------------


def _member_dec(m: Member) -> Callable[[int, int], tuple[Any, int]]:
    c = m.codec
    if isinstance(c, Complex) and c.dec_fn is not None:
        return c.dec_fn
    return lambda v, q: dec_member(m, v, q)


def _member_enc(m: Member) -> Callable[[Any, int], int]:
    c = m.codec
    if isinstance(c, Complex) and c.enc_fn is not None:
        return c.enc_fn
    return lambda x, a: enc_member(m, x, a)


class Family:
    """One schema family: the document grammar (global elements) and fragment grammar."""

    def __init__(self, name: str, namespace: str, doc: tuple[Member, ...],
                 frag: tuple[Member, ...], dsig_frag: tuple[Member, ...] = ()) -> None:
        self.name = name
        self.namespace = namespace
        self.doc = doc
        self.doc_width = len(doc).bit_length()  # n globals + SE(*): ceil(log2(n+1))
        self.doc_index = {m.name: i for i, m in enumerate(doc)}
        self.frag = frag
        self.frag_index = {m.name: i for i, m in enumerate(frag)}
        self.dsig_frag = dsig_frag
        self.dsig_frag_index = {m.name: i for i, m in enumerate(dsig_frag)}
        self._dec = [_member_dec(m) for m in doc]
        self._enc = [_member_enc(m) for m in doc]
        self.by_class: dict[type, list[int]] = {}
        for i, m in enumerate(doc):
            if isinstance(m.codec, Complex):
                self.by_class.setdefault(m.codec.cls, []).append(i)
        self._json_keys: dict[int, dict[str, tuple[int, int]]] = {}

    def decode(self, data: bytes) -> tuple[str, Any]:
        total = len(data) * 8
        if not data:
            raise ExiError("empty input", 0)
        if data[0] != 0x80:
            raise ExiError(f"header byte {data[0]:#04x} is not 0x80 (EXI 1.0, no options)", 0)
        v = int.from_bytes(data, "big")
        q = total - 8
        try:
            w = self.doc_width
            q -= w
            i = (v >> q) & ((1 << w) - 1)
            if i >= len(self.doc):
                raise DecodeFail("root element not in the schema (SE(*))", q)
            m = self.doc[i]
            x, q = self._dec[i](v, q)
        except DecodeFail as e:
            raise ExiError(e.reason, total - e.q) from None
        except ValueError:
            raise ExiError("truncated input", total) from None
        except (RecursionError, MemoryError, OverflowError, IndexError, TypeError) as e:
            raise ExiError(f"malformed input ({type(e).__name__})", total) from None
        if q < 0:
            raise ExiError("truncated input", total)
        if q >= 8:
            raise ExiError(f"{q // 8} byte(s) of trailing data after the document", total - q)
        if v & ((1 << q) - 1):
            raise ExiError("non-zero padding bits", total - q)
        return m.name, x

    def encode(self, root: str | None, x: Any) -> bytes:
        if root is None:
            idx = self.by_class.get(type(x), [])
            if len(idx) != 1:
                raise ExiError(f"{type(x).__name__} is not the type of exactly one global "
                               f"element of {self.name}; name the root element")
            i = idx[0]
        else:
            if root not in self.doc_index:
                raise ExiError(f"{root} is not a global element of {self.name}")
            i = self.doc_index[root]
        a = 0x80
        try:
            a = (a << self.doc_width) | i
            a = self._enc[i](x, a)
        except EncodeFail as e:
            raise ExiError(str(e)) from None
        except (AttributeError, TypeError, ValueError) as e:
            raise ExiError(f"cannot encode: {e}") from None
        n = a.bit_length()
        pad = -n % 8
        return (a << pad).to_bytes((n + pad) // 8, "big")

    def encode_fragment(self, name: str, x: Any, grammar: str = "auto") -> bytes:
        """EXI fragment (SD, SE(name), content, EE, ED) as hashed and signed in -2/-20.

        grammar "schema" uses the fragment grammar of the whole schema set (all element
        declarations, sorted); "xmldsig" that of the xmldsig schema alone, which is what
        ISO 15118 implementations use for SignedInfo; "auto" picks "xmldsig" for xmldsig
        elements and "schema" otherwise."""
        if grammar == "auto":
            grammar = "xmldsig" if name in self.dsig_frag_index else "schema"
        members, index = ((self.dsig_frag, self.dsig_frag_index) if grammar == "xmldsig"
                          else (self.frag, self.frag_index))
        if name not in index:
            raise ExiError(f"{name} is not an element of the {grammar} fragment grammar "
                           f"of {self.name}")
        i = index[name]
        width = (len(members) + 1).bit_length()  # n elements + SE(*) + ED
        a = 0x80
        try:
            a = (a << width) | i
            a = enc_member(members[i], x, a)
            a = (a << width) | (len(members) + 1)  # ED
        except EncodeFail as e:
            raise ExiError(str(e)) from None
        except (AttributeError, TypeError, ValueError) as e:
            raise ExiError(f"cannot encode: {e}") from None
        n = a.bit_length()
        pad = -n % 8
        return (a << pad).to_bytes((n + pad) // 8, "big")

    def decode_fragment(self, data: bytes, grammar: str = "schema") -> tuple[str, Any]:
        """Decode a fragment made by encode_fragment (one element, then ED)."""
        members = self.dsig_frag if grammar == "xmldsig" else self.frag
        width = (len(members) + 1).bit_length()
        total = len(data) * 8
        if not data or data[0] != 0x80:
            raise ExiError("header byte is not 0x80", 0)
        v = int.from_bytes(data, "big")
        q = total - 8
        try:
            q -= width
            i = (v >> q) & ((1 << width) - 1)
            if i >= len(members):
                raise DecodeFail("fragment does not start with a declared element", q)
            m = members[i]
            x, q = dec_member(m, v, q)
            q -= width
            if (v >> q) & ((1 << width) - 1) != len(members) + 1:
                raise DecodeFail("fragment holds more than one element", q)
        except DecodeFail as e:
            raise ExiError(e.reason, total - e.q) from None
        except ValueError:
            raise ExiError("truncated input", total) from None
        if q >= 8 or v & ((1 << q) - 1):
            raise ExiError("trailing data after the fragment", total - q)
        return m.name, x

    def to_json(self, root: str, x: Any) -> dict[str, Any]:
        m = self.doc[self.doc_index[root]]
        return {root: value_to_json(m.codec, x)}

    def from_json(self, j: Any) -> tuple[str, Any]:
        if not isinstance(j, dict) or len(j) != 1:
            raise ExiError("JSON message must be an object with exactly one key (the root)")
        (root, body), = j.items()
        if root not in self.doc_index:
            raise ExiError(f"{root} is not a global element of {self.name}")
        m = self.doc[self.doc_index[root]]
        try:
            return root, value_from_json(m.codec, body, self._json_keys, root)
        except EncodeFail as e:
            raise ExiError(str(e)) from None
