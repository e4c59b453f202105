"""What the compiled validators (josev.lean.generated) run on: a frozen base class and checkers.

Semantics are pydantic's strict mode as our models use it (no coercion; an int is accepted for a
float and becomes one; lists must be lists), so that a message means the same in every process;
tests/unit/lean compares both validators on thousands of mutated messages. Errors carry the
field path and a pydantic-like text, because describe_validation_error and the config loader
format both kinds alike. Only the first fault is reported (pydantic reports all).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from josev.api.rules import format_timestamp, parse_timestamp

Loc = tuple[str | int, ...]
T = TypeVar("T")
M = TypeVar("M", bound="LeanModel")


class LeanValidationError(ValueError):
    """One fault: where (`loc`, a field path) and what. Shaped like pydantic's ValidationError
    where our code reads it (`errors()`, `error_count()`)."""

    def __init__(self, loc: Loc, msg: str, kind: str, title: str = "") -> None:
        super().__init__(msg)
        self.loc, self.msg, self.kind, self.title = loc, msg, kind, title

    def errors(self) -> list[dict[str, Any]]:
        return [{"loc": self.loc, "msg": self.msg, "type": self.kind}]

    def error_count(self) -> int:
        return 1

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.loc) or "<data>"
        return f"1 validation error for {self.title or 'data'}\n{where}\n  {self.msg}"


_set = object.__setattr__


class LeanModel:
    """Frozen, slotted, validated on construction; the parts of pydantic's BaseModel API our
    services use (`model_validate`, `model_dump`, `model_copy`, equality, repr)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _fieldset: ClassVar[frozenset[str]] = frozenset()
    _required: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def model_validate(cls, obj: object) -> Self:
        if isinstance(obj, cls):
            return obj
        if not isinstance(obj, dict):
            raise LeanValidationError(
                (), f"Input should be a valid dictionary or instance of {cls.__name__}",
                "model_type", cls.__name__)
        for key in obj:
            if key not in cls._fieldset:
                raise LeanValidationError((key,), "Extra inputs are not permitted",
                                          "extra_forbidden", cls.__name__)
        for key in cls._required:
            if key not in obj:
                raise LeanValidationError((key,), "Field required", "missing", cls.__name__)
        return cls(**obj)

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            if value is None and exclude_none:
                continue
            out[name] = _dump(value, mode, exclude_none)
        return out

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Self:
        """A changed copy, validated (pydantic's copy is not: a bad override would pass)."""
        data = {name: getattr(self, name) for name in self._fields}
        data.update(update or {})
        return type(self)(**data)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields)

    def __hash__(self) -> int:
        return hash((type(self), *(getattr(self, n) for n in self._fields)))

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({body})"

    def __reduce__(self) -> tuple[Any, ...]:
        """copy, deepcopy and pickle rebuild through the constructor (slots are frozen)."""
        return (_rebuild, (type(self), {n: getattr(self, n) for n in self._fields}))


def _rebuild(cls: type[M], data: dict[str, Any]) -> M:
    return cls(**data)


def _dump(value: Any, mode: str, exclude_none: bool) -> Any:
    if isinstance(value, LeanModel):
        return value.model_dump(mode=mode, exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(v, mode, exclude_none) for v in value]
    if isinstance(value, tuple):
        items = [_dump(v, mode, exclude_none) for v in value]
        return items if mode == "json" else tuple(items)
    if mode == "json":
        if isinstance(value, datetime):
            return format_timestamp(value)
        if isinstance(value, Path):
            return str(value)
    return value


def run_rules(obj: LeanModel, rules: tuple[Callable[[Any], None], ...]) -> None:
    for rule in rules:
        try:
            rule(obj)
        except ValueError as exc:
            raise LeanValidationError((), f"Value error, {exc}", "value_error") from None


def titled(exc: LeanValidationError, title: str) -> LeanValidationError:
    if not exc.title:
        exc.title = title
    return exc


# Checkers: (value, loc, constraints...) -> the validated value. ---------------------------------


def _bounds(value: float, loc: Loc, ge: float | None, le: float | None) -> None:
    if ge is not None and value < ge:
        raise LeanValidationError(loc, f"Input should be greater than or equal to {ge}",
                                  "greater_than_equal")
    if le is not None and value > le:
        raise LeanValidationError(loc, f"Input should be less than or equal to {le}",
                                  "less_than_equal")


def check_int(value: object, loc: Loc, ge: int | None = None, le: int | None = None) -> int:
    if type(value) is not int:
        raise LeanValidationError(loc, "Input should be a valid integer", "int_type")
    _bounds(value, loc, ge, le)
    return value


def check_float(value: object, loc: Loc, ge: float | None = None,
                le: float | None = None) -> float:
    kind = type(value)
    if kind is int:
        try:
            value = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise LeanValidationError(loc, "Input should be a valid number", "float_type") \
                from None
    elif kind is not float:
        raise LeanValidationError(loc, "Input should be a valid number", "float_type")
    assert isinstance(value, float)
    if not math.isfinite(value):
        raise LeanValidationError(loc, "Input should be a finite number", "finite_number")
    _bounds(value, loc, ge, le)
    return value


def check_str(value: object, loc: Loc, min_length: int | None = None,
              max_length: int | None = None) -> str:
    if type(value) is not str:
        raise LeanValidationError(loc, "Input should be a valid string", "string_type")
    if min_length is not None and len(value) < min_length:
        raise LeanValidationError(loc, f"String should have at least {min_length} characters",
                                  "string_too_short")
    if max_length is not None and len(value) > max_length:
        raise LeanValidationError(loc, f"String should have at most {max_length} characters",
                                  "string_too_long")
    return value


def check_bool(value: object, loc: Loc) -> bool:
    if type(value) is not bool:
        raise LeanValidationError(loc, "Input should be a valid boolean", "bool_type")
    return value


def check_literal(value: object, loc: Loc, allowed: frozenset[str], text: str) -> str:
    if type(value) is not str or value not in allowed:
        raise LeanValidationError(loc, f"Input should be {text}", "literal_error")
    return value


def check_timestamp(value: object, loc: Loc) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise LeanValidationError(loc, f"Value error, {exc}", "value_error") from None


def check_path(value: object, loc: Loc) -> Path:
    if isinstance(value, Path):
        return value
    if isinstance(value, str) or isinstance(value, os.PathLike):
        return Path(value)
    raise LeanValidationError(loc, "Input is not a valid path", "path_type")


def check_model(cls: type[M], value: object, loc: Loc) -> M:
    try:
        return cls.model_validate(value)
    except LeanValidationError as exc:
        raise LeanValidationError(loc + exc.loc, exc.msg, exc.kind) from None


def check_list(value: object, loc: Loc, item: Callable[[Any, Loc], T],
               min_length: int | None = None, max_length: int | None = None) -> list[T]:
    if type(value) is not list:
        raise LeanValidationError(loc, "Input should be a valid list", "list_type")
    _length(len(value), loc, "List", min_length, max_length)
    return [item(v, (*loc, i)) for i, v in enumerate(value)]


def check_tuple(value: object, loc: Loc, item: Callable[[Any, Loc], T]) -> tuple[T, ...]:
    """A variable-length tuple from a list or tuple (TOML arrays are lists)."""
    if not isinstance(value, list | tuple):
        raise LeanValidationError(loc, "Input should be a valid tuple", "tuple_type")
    return tuple(item(v, (*loc, i)) for i, v in enumerate(value))


def _length(n: int, loc: Loc, what: str, lo: int | None, hi: int | None) -> None:
    if lo is not None and n < lo:
        noun = "item" if lo == 1 else "items"
        raise LeanValidationError(
            loc, f"{what} should have at least {lo} {noun} after validation, not {n}",
            "too_short")
    if hi is not None and n > hi:
        noun = "item" if hi == 1 else "items"
        raise LeanValidationError(
            loc, f"{what} should have at most {hi} {noun} after validation, not {n}", "too_long")
