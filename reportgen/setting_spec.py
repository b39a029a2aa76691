"""How a setting is declared, parsed, checked and resolved: the machinery behind ``settings``.

A setting is a dataclass field made by ``setting()``, carrying its ``Spec``; the dataclasses of
``settings`` declare them. Light on purpose: a no-op build imports this.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

log = logging.getLogger("reportgen")

Kind = Literal["flag", "count", "int", "float", "text", "path", "choice", "list"]
T = TypeVar("T")
S = TypeVar("S")
SPEC = "reportgen.setting"


@dataclass(frozen=True)
class Spec:
    """How one setting is given and checked; the field's name and default are the dataclass's."""

    help: str
    kind: Kind
    flags: tuple[str, ...] = ()  # empty: not a command-line option (derived by the CLI)
    metavar: str | None = None
    low: float | None = None
    high: float | None = None
    open_range: bool = False  # low < value < high (else low <= value <= high)
    choices: tuple[str, ...] = ()
    env: str | None = None  # environment variable
    key: str | None = None  # key in the tree file's settings table
    unit: int = 1  # stored value = given value × unit (MB given, bytes stored)
    default_text: str | None = None  # the default as the help shows it, when not the value
    hashed: bool = False  # changes the bytes of the site: part of the build's settings hash

    @property
    def option(self) -> str | None:
        """The long option (``--max-file-size``), or the positional's metavar."""
        longs = [f for f in self.flags if f.startswith("--")]
        return longs[0] if longs else self.metavar if self.flags else None


class SettingError(ValueError):
    """A value that is not allowed, with the message argparse and the tree file show."""


def setting(default: T, *flags: str, help: str, **spec: Any) -> T:
    """A dataclass field carrying its ``Spec``; the kind follows from the default unless given."""
    kind = spec.pop("kind", None) or _kind_of(default, spec)
    meta = {SPEC: Spec(help=help, kind=kind, flags=flags, **spec)}
    value: Any = field(default=default, metadata=meta)
    return value  # type: ignore[no-any-return]


def computed_setting(factory: Callable[[], T], *flags: str, help: str, **spec: Any) -> T:
    """A setting whose default is computed when the settings are made (``-j``: all cores)."""
    meta = {SPEC: Spec(help=help, flags=flags, **spec)}
    value: Any = field(default_factory=factory, metadata=meta)
    return value  # type: ignore[no-any-return]


def _kind_of(default: object, spec: Mapping[str, Any]) -> Kind:
    if isinstance(default, bool):
        return "flag"
    if "choices" in spec:
        return "choice"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, Path):
        return "path"
    return "text"


def spec(item: Field[Any]) -> Spec:
    found = item.metadata[SPEC]
    assert isinstance(found, Spec)
    return found


def specs(cls: type[Any]) -> Iterator[Field[Any]]:
    return (f for f in fields(cls) if SPEC in f.metadata)


def options(cls: type[Any]) -> list[Field[Any]]:
    """The fields of ``cls`` given on the command line, in declaration order."""
    return [f for f in specs(cls) if spec(f).flags]


def default_of(item: Field[Any]) -> object:
    if item.default_factory is not MISSING:
        return item.default_factory()
    return item.default


def default_text(item: Field[Any]) -> str:
    """A setting's default as the help and the README show it."""
    found = spec(item)
    if found.default_text is not None:
        return found.default_text
    value = default_of(item)
    if isinstance(value, bool):
        return "off" if found.kind == "flag" else str(value)
    if isinstance(value, int) and found.kind == "count":
        return "0"
    if isinstance(value, int):
        return f"{value // found.unit:,}"
    return str(value)


# --- parsing and checking one value ----------------------------------------------------------


def _number_text(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) or value != int(value) else f"{int(value):,}"


def range_text(item: Spec) -> str:
    if item.low is None or item.high is None:
        return ""
    low, high = _number_text(item.low), _number_text(item.high)
    if item.open_range:
        return f"between {low} and {high} (exclusive)"
    return f"between {low} and {high}"


def check_range(item: Spec, value: float, text: str) -> None:
    if item.low is None or item.high is None:
        return
    inside = item.low < value < item.high if item.open_range else item.low <= value <= item.high
    if not inside:
        raise SettingError(f"must be {range_text(item)}, not {text[:40]}")


def parse_text(item: Spec, text: str) -> object:
    """A setting's value from its command-line or environment text; ``SettingError`` if bad."""
    if item.kind == "int" or item.kind == "count":
        try:
            number = int(text.strip())
        except ValueError:
            raise SettingError(f"not an integer: {text[:40]!r}") from None
        check_range(item, number, text)
        return number * item.unit
    if item.kind == "float":
        try:
            real = float(text.strip())
        except ValueError:
            raise SettingError(f"not a number: {text[:40]!r}") from None
        check_range(item, real, text)
        return real
    if item.kind == "flag":
        return _parse_flag(text)
    if item.kind == "list":
        return _parse_list(item, text)
    if item.kind == "choice" and text not in item.choices:
        raise SettingError(f"{text[:40]!r} is not one of {', '.join(item.choices)}")
    return Path(text) if item.kind == "path" else text


def _parse_flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise SettingError(f"not a yes/no value: {text[:40]!r}")


def _parse_list(item: Spec, text: str) -> tuple[str, ...]:
    chosen = tuple(sorted({part.strip().lower() for part in text.split(",") if part.strip()}))
    unknown = sorted(set(chosen) - set(item.choices))
    if unknown:
        raise SettingError(f"unknown value(s): {', '.join(unknown)} (choose from {item.metavar})")
    return chosen


# --- resolving and deriving ------------------------------------------------------------------


@dataclass(frozen=True)
class TreeSettings:
    """The validated settings of a tree file: field name → value (only what the file sets)."""

    values: Mapping[str, object] = field(default_factory=dict)


def resolve(
    cls: type[S],
    given: Mapping[str, object],
    environ: Mapping[str, str] | None = None,
    tree: TreeSettings | None = None,
) -> S:
    """``cls`` from the command line's values, else the environment, else the tree file, else
    the defaults; ``SettingError`` names a bad environment variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for item in specs(cls):
        found = spec(item)
        if item.name in given:
            values[item.name], origin = given[item.name], "command line"
        elif found.env is not None and found.env in environ:
            try:
                values[item.name] = parse_text(found, environ[found.env])
            except SettingError as exc:
                raise SettingError(f"{found.env}: {exc}") from None
            origin = found.env
        elif tree is not None and found.key is not None and item.name in tree.values:
            values[item.name], origin = tree.values[item.name], "tree file"
        else:
            continue
        log.debug("setting %s = %r (%s)", item.name, values[item.name], origin)
    return cls(**values)


def derive(cls: type[S], source: object, **overrides: object) -> S:
    """A stage's settings: every field of ``cls`` that ``source`` has, by name, then overrides.

    A field of ``cls`` that ``source`` lacks keeps its default, so a setting added to the schema
    reaches every stage that declares a field of that name.
    """
    names = [f.name for f in fields(cast(Any, cls))]
    values = {name: getattr(source, name) for name in names if hasattr(source, name)}
    return cls(**(values | overrides))
