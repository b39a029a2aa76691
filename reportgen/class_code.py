"""The methods ``dataclasses`` generates, compiled once per install instead of once per process.

Every ``@dataclass`` writes the source of its ``__init__``, ``__repr__``, ``__eq__`` (and, when
frozen, ``__setattr__``, ``__delattr__``, ``__hash__``) and ``exec``s it; compiling that source
is most of what creating a class costs, and a build that renders pages creates some 300 of
them (the record decoders of ``decoders.py`` are written out the same way).
``install(part)`` hands ``dataclasses`` an ``exec`` that looks each source text up in tables
of code objects kept in the per-install cache (sealed like every entry there, keyed by
the interpreter's bytecode magic) and compiles only texts it has not seen, exactly as
``exec`` would have (no inherited ``__future__`` flags, file name ``<string>``). A code object
is found by its whole source text, so a class whose fields change simply misses. The command
line's own classes and the page code's are separate parts, so a no-op build reads only the
first. ``save()`` stores a part again when this process compiled something new for it. A build
called from Python uses the tables only while it runs (``tables_on``).
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib.util
import marshal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any

# a part stored keeps what other processes stored (the worker server's classes beside the
# build's) up to twice what this process used, plus this slack; past that, what this process
# did not use (old versions' classes, mostly) is dropped
SLACK = 256


class _Table:
    """Source text → code object: what was stored, and what this process used and made."""

    def __init__(self, stored: dict[str, CodeType]) -> None:
        self.stored = stored
        self.used: dict[str, CodeType] = {}
        self.made = 0

    def find(self, source: str) -> CodeType | None:
        found = self.used.get(source) or self.stored.get(source)
        if found is not None:
            self.used[source] = found
        return found

    def compiled(self, source: str) -> CodeType:
        """The code of ``source``: found, or compiled as ``exec(source)`` compiles it in
        ``dataclasses``, which has no future imports (and kept as this process's)."""
        code = self.find(source)
        if code is None:
            code = self.used[source] = compile(source, "<string>", "exec", dont_inherit=True)
            self.made += 1
        return code

    def to_store(self) -> dict[str, CodeType]:
        kept = {**self.stored, **self.used}
        return kept if len(kept) <= 2 * len(self.used) + SLACK else dict(self.used)


_tables: dict[str, _Table] = {}  # by part, in the order they were installed
_current: list[str] = []  # the part that texts compiled now belong to (the last installed)


def entry_name(part: str) -> str:
    """The per-install cache entry of one part, one per bytecode format."""
    return f"class-code/{part}-{importlib.util.MAGIC_NUMBER.hex()}.marshal"


def _code(source: str) -> CodeType:
    for table in _tables.values():
        if (found := table.find(source)) is not None:
            return found
    return _tables[_current[-1]].compiled(source)


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    if _current and isinstance(source, str):
        source = _code(source)
    builtins.exec(source, globals, locals)


def exec_source(source: str, scope: dict[str, Any], part: str = "decoders") -> None:
    """``exec(source, scope)`` with the code stored for ``source`` in ``part`` when the tables
    are on (the record decoders written out for each type, kept apart from the classes: a
    no-op build reads none of them)."""
    if not _current:
        builtins.exec(source, scope)
        return
    builtins.exec(_table(part).compiled(source), scope)


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


def install(part: str) -> None:
    """From now on, classes made by ``dataclasses`` in this process use the stored code; what
    is compiled from here on is stored in ``part`` (a no-op build reads only the small part
    of the classes it makes, not the page code's)."""
    _table(part)
    _current[:] = [part]
    dataclasses.exec = _exec  # type: ignore[attr-defined]  # the module's own global shadows the builtin


def _table(part: str) -> _Table:
    """The table of ``part``, read from the per-install cache the first time."""
    from reportgen.install_cache import existing_install_cache

    if part not in _tables:
        _tables[part] = _Table(_decode(existing_install_cache().get(entry_name(part))))
    return _tables[part]


@contextmanager
def tables_on(part: str) -> Iterator[None]:
    """``install(part)`` for the block, and ``save()`` after it. Where the tables were on
    already (the command line's process, a worker server's) they stay on; a library caller's
    process gets ``dataclasses`` back as it found it, so its own classes are never ours."""
    on_already = bool(_current)
    install(part)
    try:
        yield
        save()
    finally:
        if not on_already:
            _switch_off()  # the tables stay read, for the process's next build


def save() -> None:
    """Store each part this process compiled anything new for (a read-only cache: no harm)."""
    from reportgen.install_cache import install_cache

    for part, table in _tables.items():
        if table.made:
            install_cache().put(entry_name(part), marshal.dumps(table.to_store()))
            table.stored, table.used, table.made = table.to_store(), {}, 0


def uninstall() -> None:
    """``dataclasses`` compiles every class again (tests)."""
    _tables.clear()
    _switch_off()


def _switch_off() -> None:
    _current.clear()
    if "exec" in vars(dataclasses):
        del dataclasses.exec  # type: ignore[attr-defined]


def made() -> int:
    """How many texts this process compiled since the tables were last saved (tests)."""
    return sum(table.made for table in _tables.values())


def stored_sources() -> Mapping[str, CodeType]:
    """What the tables hold now (tests)."""
    return {k: v for table in _tables.values() for k, v in table.to_store().items()}
