"""Dataclass methods from the per-install code table: the same classes, compiled once."""

from __future__ import annotations

import dataclasses
import marshal
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

import orjson
import pytest

from reportgen import class_code
from reportgen.install_cache import install_cache

SOURCE = """
from dataclasses import dataclass, field

@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: "int | None" = None
    tags: tuple[str, ...] = field(default_factory=tuple)

@dataclass(order=True)
class Loose:
    name: str
    count: int = 0
"""

METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__lt__")


def _classes(source: str = SOURCE) -> dict[str, Any]:
    """The sample's classes, made in a module of their own as an import would."""
    module = ModuleType("class_code_sample")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, "<sample>", "exec", dont_inherit=True), vars(module))
    finally:
        del sys.modules[module.__name__]
    return vars(module)


def _codes(namespace: dict[str, Any]) -> dict[tuple[str, str], CodeType]:
    codes = {}
    for cls in ("Point", "Loose"):
        for method in METHODS:
            function = vars(namespace[cls]).get(method)
            if function is not None and hasattr(function, "__code__"):
                codes[cls, method] = function.__code__
    return codes


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    tables, current = dict(class_code._tables), list(class_code._current)
    class_code.uninstall()
    yield
    class_code.uninstall()
    if current:  # as the command line's import left it, when this process ran it
        class_code._tables.update(tables)
        class_code.install(current[-1])


def test_classes_from_stored_code_are_the_classes_compiled_afresh(fresh_cache: None) -> None:
    plain = _classes()
    class_code.install("test")
    first = _classes()  # compiled by the table, then stored
    class_code.save()
    class_code.uninstall()
    class_code.install("test")  # as a new process: the table read back from the cache
    stored = _classes()
    assert class_code.made() == 0  # nothing compiled the second time
    assert _codes(plain) == _codes(first) == _codes(stored)
    assert len(_codes(plain)) >= 8
    # no ``from __future__ import annotations`` leaks into the generated methods
    init = stored["Point"].__init__
    assert init.__annotations__["x"] is float
    point = stored["Point"](1.5, tags=("a",))
    assert repr(point) == "Point(x=1.5, y=None, tags=('a',))"
    assert point == stored["Point"](1.5, None, ("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 2.0
    assert stored["Loose"]("a") < stored["Loose"]("b")


def test_a_class_whose_fields_change_misses_and_is_compiled(fresh_cache: None) -> None:
    class_code.install("test")
    _classes()
    class_code.save()
    class_code.uninstall()
    class_code.install("test")
    changed = _classes(SOURCE.replace("count: int = 0", "count: int = 0\n    extra: bool = True"))
    assert changed["Loose"]("a").extra is True
    assert class_code.made() > 0


@pytest.mark.parametrize(
    "content", [b"", b"not marshal", marshal.dumps([1, 2]), marshal.dumps({1: 2})]
)
def test_an_entry_that_is_not_a_table_is_empty(fresh_cache: None, content: bytes) -> None:
    install_cache().put(class_code.entry_name("test"), content)
    class_code.install("test")
    assert class_code.stored_sources() == {}
    assert _classes()["Point"](1.0).x == 1.0


def test_an_entry_without_a_valid_seal_is_never_loaded(fresh_cache: None) -> None:
    class_code.install("test")
    _classes()
    class_code.save()
    class_code.uninstall()
    cache = install_cache()
    assert cache.directory is not None
    path = cache.directory / class_code.entry_name("test")
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # the seal no longer matches the bytes
    path.write_bytes(bytes(data))
    class_code.install("test")
    assert class_code.stored_sources() == {}


def test_classes_made_after_another_part_is_installed_are_stored_in_it(fresh_cache: None) -> None:
    class_code.install("first")
    _classes()
    class_code.install("second")
    _classes(SOURCE.replace("count: int = 0", "weight: float = 1.0"))  # Point's code is in "first"
    class_code.save()
    cache = install_cache()
    first = class_code._decode(cache.get(class_code.entry_name("first")))
    second = class_code._decode(cache.get(class_code.entry_name("second")))
    assert first and second and first.keys().isdisjoint(second.keys())
    assert all("weight" in text for text in second)
    assert not any("weight" in text for text in first)


FIRST_BUILD = """
import sys
import orjson
from reportgen.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(orjson.dumps(sorted(m for m in sys.modules if m.startswith("reportgen"))).decode())
"""

SECOND_PROCESS = """
import importlib
import sys
import orjson
import reportgen.cli
from reportgen import class_code
class_code.install("pages")
for module in orjson.loads(sys.argv[1]):
    importlib.import_module(module)
from reportgen.analysis.record import RunRecord
from reportgen.build.record_store import SHARED
from reportgen.decoders import filling_decoder
filling_decoder(RunRecord, SHARED)  # as the build's record store decodes
print(class_code.made())
"""


@pytest.mark.slow
def test_a_build_stores_the_classes_the_next_process_makes(
    sample_tree: Path, tmp_path: Path
) -> None:
    """The command line's build stores its parts; a later process that imports the same code
    compiles none of its classes' methods, nor the record decoders."""
    env = {
        **os.environ,
        "REPORTGEN_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    args = ["build", str(sample_tree), "-o", str(tmp_path / "site"), "-j", "1"]
    first = subprocess.run(
        [sys.executable, "-c", FIRST_BUILD, *args], env=env, capture_output=True, text=True
    )
    modules = first.stdout.strip().splitlines()[-1]
    stored = sorted(p.name.split("-")[0] for p in (tmp_path / "cache/sealed/class-code").iterdir())
    assert stored == ["decoders", "pages", "startup"]
    second = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, modules],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(orjson.loads(modules)) > 100
    assert second.stdout.strip() == "0"


def test_decoders_are_stored_apart_and_compiled_once(fresh_cache: None) -> None:
    """A record decoder's code is stored in a part of its own (a no-op build, which decodes
    nothing, reads none of it) and, read back, makes the same decoder."""
    class_code.install("test")
    scope: dict[str, Any] = {}
    class_code.exec_source("def decode(value):\n    return value + 1\n", scope, "decode-test")
    assert class_code.made() == 1
    class_code.save()
    class_code.uninstall()
    class_code.install("test")
    again: dict[str, Any] = {}
    class_code.exec_source("def decode(value):\n    return value + 1\n", again, "decode-test")
    assert class_code.made() == 0 and again["decode"](1) == 2
    cache = install_cache()
    assert class_code._decode(cache.get(class_code.entry_name("test"))) == {}
    assert len(class_code._decode(cache.get(class_code.entry_name("decode-test")))) == 1


def test_without_the_tables_a_decoder_is_compiled_as_exec_compiles_it(fresh_cache: None) -> None:
    scope: dict[str, Any] = {}
    class_code.exec_source("def decode(value):\n    return value * 2\n", scope)
    assert scope["decode"](2) == 4 and class_code.made() == 0


def test_a_stored_part_drops_what_this_process_did_not_use_past_its_bound(
    fresh_cache: None,
) -> None:
    """Old versions' classes do not pile up: past twice what a process used (plus a slack),
    only what it used is stored."""
    stale = {f"# an old class {i}\n": compile("", "<string>", "exec") for i in range(600)}
    install_cache().put(class_code.entry_name("test"), marshal.dumps(stale))
    class_code.install("test")
    _classes()
    used = class_code.made()
    class_code.save()
    stored = class_code._decode(install_cache().get(class_code.entry_name("test")))
    assert 0 < len(stored) == used < len(stale)
    assert stored.keys().isdisjoint(stale)


def test_the_command_line_reads_the_table_without_making_a_key(tmp_path: Path) -> None:
    """Reading the table at start-up makes nothing: ``--help`` leaves no key and no cache."""
    env = {
        **os.environ,
        "REPORTGEN_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "reportgen", "--help"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "build" in done.stdout
    assert list(tmp_path.iterdir()) == []


LIBRARY_BUILD = """
import dataclasses, sys
from pathlib import Path
from reportgen import class_code
from reportgen.build import BuildOptions, build

counts = []  # at each save: texts compiled, texts the tables hold
real_save = class_code.save

def save():
    counts.append((class_code.made(), len(class_code.stored_sources())))
    real_save()

class_code.save = save
build(BuildOptions(results=Path(sys.argv[1]), out=Path(sys.argv[2]), jobs=1))
print("exec" in vars(dataclasses), *counts[-1])
"""


def test_a_library_build_uses_the_tables_while_it_runs_and_leaves_dataclasses_as_it_found_them(
    sample_tree: Path, tmp_path: Path
) -> None:
    """A build called from Python makes its classes from the stored code, as the command line
    does; a notebook's own classes are none of its business, so afterwards ``dataclasses``
    compiles as it did."""
    env = {**os.environ, "REPORTGEN_CACHE_DIR": str(tmp_path / "cache")}
    shown = []
    for site in ("first", "second"):
        argv = [sys.executable, "-c", LIBRARY_BUILD, str(sample_tree), str(tmp_path / site)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        exec_left, made, held = done.stdout.split()
        shown.append((exec_left, int(made), int(held)))
    (first_left, first_made, first_held), (second_left, second_made, second_held) = shown
    assert first_left == second_left == "False"
    assert first_made > 100 and first_held >= first_made  # the page code's classes, stored
    assert second_made == 0 and second_held >= first_made  # every one found in the tables
