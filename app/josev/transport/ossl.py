"""Two OpenSSL calls Python 3.11's ssl module lacks, through ctypes, verified before use.

- `set_groups(ctx, groups)`: SSL_CTX_set1_groups_list. ISO 15118-20 needs a TLS 1.3 context
  that offers BOTH secp521r1 and X448; `SSLContext.set_ecdh_curve` sets exactly one group,
  and `set_groups` only arrives in Python 3.13.
- `negotiated_group(sslobj)`: SSL_get_negotiated_group, so a session's key exchange can be
  logged and checked against the standard.

How: in CPython the C object behind an SSLContext starts with PyObject_HEAD and then its
`SSL_CTX *`; the one behind an SSL socket/object has PyObject_HEAD, a socket weakref, the
`SSL *` and then the `PySSLContext *` it was made from. We read those pointers only after
checking that they are what we think: the SSL_CTX must report the same options as the
Python context, also after we flip one option through Python, and the SSL object's context
slot must hold the Python context itself. Anything unexpected raises `OsslUnavailable`
with the reason; callers log it loudly, they never fall back silently.
"""

from __future__ import annotations

import ctypes
import ssl
import sys
from collections.abc import Iterable
from pathlib import Path

SSL_CTRL_SET_GROUPS_LIST = 92         # SSL_CTX_set1_groups_list is SSL_CTX_ctrl(ctx, 92, 0, s)
SSL_CTRL_GET_NEGOTIATED_GROUP = 134   # SSL_get_negotiated_group is SSL_ctrl(s, 134, 0, NULL)
_PROBE_OPTION = ssl.OP_NO_RENEGOTIATION  # flipped and restored to prove the pointer


class OsslUnavailable(RuntimeError):
    """The ctypes route to OpenSSL cannot be used safely in this interpreter."""


_lib: ctypes.CDLL | None = None


def _libssl() -> ctypes.CDLL:
    """The libssl that the running `_ssl` module is linked against (not just any on disk)."""
    global _lib
    if _lib is not None:
        return _lib
    if sys.implementation.name != "cpython":
        raise OsslUnavailable(f"needs CPython's object layout, not {sys.implementation.name}")
    import _ssl

    path = None
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6 and Path(fields[5]).name.startswith("libssl.so"):
                path = fields[5]
                break
    except OSError:
        pass
    if path is None:
        # statically linked into _ssl (or no /proc): the symbols are in the module itself
        path = _ssl.__file__
    try:
        lib = ctypes.CDLL(path)
        version = lib.OpenSSL_version
    except (OSError, AttributeError) as exc:
        raise OsslUnavailable(f"cannot load libssl ({path}): {exc}") from exc
    version.restype = ctypes.c_char_p
    version.argtypes = [ctypes.c_int]
    found = (version(0) or b"").decode(errors="replace")
    if found != ssl.OPENSSL_VERSION:
        raise OsslUnavailable(f"{path} is {found!r}, the ssl module uses {ssl.OPENSSL_VERSION!r}")
    lib.SSL_CTX_get_options.restype = ctypes.c_uint64
    lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_ctrl.restype = ctypes.c_long
    lib.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    lib.SSL_ctrl.restype = ctypes.c_long
    lib.SSL_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    lib.OBJ_nid2sn.restype = ctypes.c_char_p
    lib.OBJ_nid2sn.argtypes = [ctypes.c_int]
    _lib = lib
    return lib


_HEAD = object.__basicsize__  # sizeof(PyObject): PyObject_HEAD
_PTR = ctypes.sizeof(ctypes.c_void_p)


def _slot(obj: object, index: int) -> int:
    """The index-th pointer after PyObject_HEAD inside obj's C struct (0 when NULL)."""
    if type(obj).__basicsize__ < _HEAD + (index + 1) * _PTR:
        raise OsslUnavailable(f"{type(obj).__name__} is smaller than expected")
    return ctypes.c_void_p.from_address(id(obj) + _HEAD + index * _PTR).value or 0


def ssl_ctx_pointer(ctx: ssl.SSLContext) -> int:
    """The SSL_CTX* of `ctx`, after proving it is one (options match, and follow a change)."""
    lib = _libssl()
    ptr = _slot(ctx, 0)
    if not ptr:
        raise OsslUnavailable("SSLContext has no SSL_CTX pointer where expected")
    before = ctx.options
    if lib.SSL_CTX_get_options(ptr) != int(before):
        raise OsslUnavailable("SSL_CTX options do not match SSLContext.options")
    ctx.options = before ^ _PROBE_OPTION
    try:
        follows = lib.SSL_CTX_get_options(ptr) == int(ctx.options)
    finally:
        ctx.options = before
    if not follows or lib.SSL_CTX_get_options(ptr) != int(before):
        raise OsslUnavailable("SSL_CTX options do not follow SSLContext.options")
    return ptr


def set_groups(ctx: ssl.SSLContext, groups: Iterable[str]) -> None:
    """Offer exactly these key-exchange groups (OpenSSL names), in this order of preference."""
    names = ":".join(groups)
    ptr = ssl_ctx_pointer(ctx)
    if _libssl().SSL_CTX_ctrl(ptr, SSL_CTRL_SET_GROUPS_LIST, 0, names.encode()) != 1:
        raise ssl.SSLError(f"OpenSSL refused the group list {names!r}")


def negotiated_group(sslobj: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """The key-exchange group of a finished handshake (OpenSSL's short name), if known."""
    lib = _libssl()
    inner = getattr(sslobj, "_sslobj", None)
    if inner is None:
        raise OsslUnavailable("no inner _ssl object")
    ssl_ptr, ctx_ref = _slot(inner, 1), _slot(inner, 2)
    if ctx_ref != id(inner.context) or not ssl_ptr:
        raise OsslUnavailable("_ssl object layout is not the expected one")
    nid = lib.SSL_ctrl(ssl_ptr, SSL_CTRL_GET_NEGOTIATED_GROUP, 0, None)
    if nid <= 0:
        return None
    name = lib.OBJ_nid2sn(nid & 0xFFFFFFFF)
    return name.decode() if name else f"group 0x{nid:x}"
