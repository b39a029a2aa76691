"""The methods ``dataclasses`` generates, compiled once per install instead of once per process.

Every ``@dataclass`` writes the source of its ``__init__``, ``__repr__``, ``__eq__`` (and, when
frozen, ``__setattr__``, ``__delattr__``, ``__hash__``) and ``exec``s it; compiling that source
is most of what creating a class costs, and a build that renders pages creates some 300 of
them. ``install()`` hands ``dataclasses`` an ``exec`` that looks each source text up in a
table of code objects kept in the per-install cache (sealed like every entry there, keyed by
the interpreter's bytecode magic) and compiles only texts it has not seen, exactly as
``exec`` would have (no inherited ``__future__`` flags, file name ``<string>``). A code object
is found by its whole source text, so a class whose fields change simply misses. ``save()``
stores the table again when this process compiled something new.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib.util
import marshal
from collections.abc import Mapping
from types import CodeType
from typing import Any

MAX_ENTRIES = 8192  # past this, entries this process did not use are dropped (old versions')


class _Table:
    """Source text → code object: what was stored, and what this process used and made."""

    def __init__(self, stored: dict[str, CodeType]) -> None:
        self.stored = stored
        self.used: dict[str, CodeType] = {}
        self.made = 0

    def code(self, source: str) -> CodeType:
        found = self.used.get(source) or self.stored.get(source)
        if found is None:
            # as ``exec(source)`` compiles it in ``dataclasses``, which has no future imports
            found = compile(source, "<string>", "exec", dont_inherit=True)
            self.made += 1
        self.used[source] = found
        return found

    def to_store(self) -> dict[str, CodeType]:
        kept = {**self.stored, **self.used}
        return kept if len(kept) <= MAX_ENTRIES else dict(self.used)


_table: _Table | None = None


def entry_name() -> str:
    """The per-install cache entry, one per bytecode format."""
    return f"class-code/{importlib.util.MAGIC_NUMBER.hex()}.marshal"


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    table = _table
    if table is not None and isinstance(source, str):
        source = table.code(source)
    builtins.exec(source, globals, locals)


def _decode(stored: bytes | None) -> dict[str, CodeType]:
    """The table in a sealed entry; anything but a mapping of texts to code objects is empty."""
    if stored is None:
        return {}
    try:
        table = marshal.loads(stored)
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, CodeType)}


def install() -> None:
    """From now on, classes made by ``dataclasses`` in this process use the stored code."""
    global _table
    if _table is not None:
        return
    from reportgen.install_cache import install_cache

    _table = _Table(_decode(install_cache().get(entry_name())))
    dataclasses.exec = _exec  # type: ignore[attr-defined]  # the module's own global shadows the builtin


def save() -> None:
    """Store the table if this process compiled anything new (a read-only cache: no harm)."""
    table = _table
    if table is None or not table.made:
        return
    from reportgen.install_cache import install_cache

    install_cache().put(entry_name(), marshal.dumps(table.to_store()))
    table.stored, table.made = table.to_store(), 0


def uninstall() -> None:
    """``dataclasses`` compiles every class again (tests)."""
    global _table
    _table = None
    if "exec" in vars(dataclasses):
        del dataclasses.exec  # type: ignore[attr-defined]


def stored_sources() -> Mapping[str, CodeType]:
    """What the table holds now (tests)."""
    return {} if _table is None else {**_table.stored, **_table.used}
