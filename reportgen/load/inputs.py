"""Reading a run's files: every byte of the results tree a page shows is read here, once.

Limits are checked on the open file before anything is read (a sparse 3 GiB image costs a
``stat``, not 3 GiB), every file that is not used is named with the reason, and YAML is parsed
with a bound on alias expansion, so no input can cost more than one run.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np
import yaml

from reportgen.discover import RunRef
from reportgen.findings import SkippedInput
from reportgen.load.models import InputFile, InputFiles
from reportgen.vetted import Replaced, VettedFiles, open_vetted

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
# Text embedded in a page (config, plan, notes) beyond this is cut, and the page says so: a
# 25 MB config.yaml must not become a 50 MB page.
EMBED_MAX_BYTES = 256 * 1024
# A config this large is no experiment config; PyYAML would take seconds per megabyte.
CONFIG_PARSE_MAX_BYTES = 1024 * 1024
# Nodes of a YAML document once every alias is expanded: a "billion laughs" document of a few
# hundred bytes expands to 10⁹; real configs have a few hundred.
CONFIG_MAX_NODES = 100_000
CONFIG_MAX_DEPTH = 64
# libyaml's C loader when present: ~10× faster on the experiments' long configs
SAFE_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAML_ERRORS = (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError)
_DEPTH_CHUNK = 1 << 22
_TOP_LEVEL_KEY = re.compile(r"^[^\s#\-][^\n]*$")
_INDICATORS = re.compile(r"(?:[-?][ \t]+)+")


class LoadError(Exception):
    """A run's file could not be turned into a :class:`~reportgen.load.models.Run`."""

    def __init__(
        self, reason: str, *, line: int | None = None, column: int | None = None, hint: str = ""
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column
        self.hint = hint


# --- bounded reads ---------------------------------------------------------------------------


def read_bytes(
    root: Path, rel: str, vetted: VettedFiles | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> bytes:
    """A regular file's bytes; larger than ``max_bytes`` or unreadable raises :class:`LoadError`.

    Only the file discovery vetted is opened (see :mod:`reportgen.vetted`). The size is checked
    on the open descriptor before reading, and at most ``max_bytes + 1`` bytes are ever read,
    so a file that grows while it is read cannot exceed the limit either. ``O_NONBLOCK`` keeps
    a FIFO that appeared since discovery from blocking the build.
    """
    try:
        fd = open_input(root, rel, vetted)
    except OSError as exc:
        raise _os_error(exc) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file", hint="A results file must be a file.")
        if info.st_size > max_bytes:
            raise _too_large(info.st_size, max_bytes)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = _read_up_to(handle, min(info.st_size, max_bytes) + 1, max_bytes)
        if len(data) > max_bytes:
            raise _too_large(len(data), max_bytes)
        return data
    except OSError as exc:
        raise _os_error(exc) from exc
    finally:
        os.close(fd)


def _read_up_to(handle: BinaryIO, size: int, max_bytes: int) -> bytes:
    """The file's bytes, at most ``max_bytes + 1``. ``size`` (the stat size and one byte more)
    is read first: asking for ``max_bytes + 1`` at once allocates that much for every file,
    256 MB by default. A file that grew since its stat is read on in pieces, to the limit."""
    data = handle.read(size)
    while size <= len(data) <= max_bytes:
        more = handle.read(min(1 << 20, max_bytes + 1 - len(data)))
        if not more:
            break
        data += more
    return data


def open_input(root: Path, rel: str, vetted: VettedFiles | None) -> int:
    """The one place a run's file is opened (tests make it fail as EACCES would for a user)."""
    return open_vetted(root, rel, vetted)


def _too_large(size: int, max_bytes: int) -> LoadError:
    return LoadError(
        f"file is {size:,} bytes, above the limit of {max_bytes:,} bytes",
        hint="Raise --max-file-size if this run really is that large.",
    )


def _os_error(exc: OSError) -> LoadError:
    if isinstance(exc, Replaced):
        return LoadError(
            f"not read: {exc.strerror}",
            hint="The file changed while the tree was read; the next build reads it again.",
        )
    if exc.errno == errno.EISDIR:
        return LoadError("not a regular file", hint="A results file must be a file.")
    hint = (
        "Give the user running reportgen read access to the file."
        if isinstance(exc, PermissionError)
        else "Check that the file and its disk are readable."
    )
    return LoadError(f"cannot read file: {exc.strerror or exc}", hint=hint)


def embeddable(text: str, rel: str, skipped: list[SkippedInput]) -> str:
    """``text`` cut to what a page embeds; a cut is recorded as a skipped part of ``rel``."""
    data = text.encode("utf-8")
    if len(data) <= EMBED_MAX_BYTES:
        return text
    skipped.append(
        SkippedInput(
            rel,
            f"{len(data):,} bytes of text; the page shows the first {EMBED_MAX_BYTES:,}",
            False,
        )
    )
    return data[:EMBED_MAX_BYTES].decode("utf-8", errors="ignore")


def nesting_exceeds(data: bytes, limit: int) -> bool:
    """Whether brackets may nest deeper than ``limit`` (an upper bound: strings are not parsed)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    depth = 0
    for start in range(0, raw.size, _DEPTH_CHUNK):
        chunk = raw[start : start + _DEPTH_CHUNK]
        opens = (chunk == ord("[")) | (chunk == ord("{"))
        closes = (chunk == ord("]")) | (chunk == ord("}"))
        running = np.cumsum(opens.astype(np.int64) - closes, dtype=np.int64) + depth
        if running.size and int(running.max()) > limit:
            return True
        depth = int(running[-1]) if running.size else depth
    return False


# --- YAML ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigRead:
    """A config file as far as it could be read: its text, its values, and what failed."""

    path: str
    text: str | None  # the text shown on the page (possibly cut); None when unreadable
    values: Mapping[str, Any]
    problem: str | None  # why the file, or part of it, could not be read
    unread_keys: tuple[str, ...] = ()  # top-level keys whose block could not be parsed
    shown_in_part: tuple[SkippedInput, ...] = ()  # the text was cut for the page


def _expanded_nodes(root: yaml.Node, limit: int) -> int:
    """Nodes of the document with every alias expanded, counted up to just above ``limit``.

    Aliases are shared nodes in the composed graph, so sizes are memoised per node: the count
    costs one visit per distinct node however large the expansion. A cycle (a recursive
    alias) counts as unbounded.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            sizes[key] = min(limit + 1, 1 + sum(sizes[id(c)] for c in children))
            continue
        if key in sizes:
            continue
        if key in on_path:
            return limit + 1
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def block_depth(text: str) -> int:
    """An upper bound on the block-style nesting of a YAML text: the levels of indentation open
    at each line (as Python counts INDENT tokens), plus the ``- `` and ``? `` indicators that
    open a nested node on the same line (``- - - x``). One pass, however deep."""
    open_levels: list[int] = []
    deepest = 0
    for line in text.splitlines():
        content = line.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        indent = len(line) - len(content)
        while open_levels and open_levels[-1] >= indent:
            open_levels.pop()
        open_levels.append(indent)
        indicators = _INDICATORS.match(content)
        inline = indicators.group().count("-") + indicators.group().count("?") if indicators else 0
        deepest = max(deepest, len(open_levels) + inline)
    return deepest


def load_yaml(text: str) -> Any:
    """One YAML document with the safe loader; refuses alias expansion beyond the node limit
    and nesting (flow brackets or block indentation) beyond the depth limit, before parsing."""
    if nesting_exceeds(text.encode("utf-8", "replace"), CONFIG_MAX_DEPTH):
        raise ValueError(f"nested deeper than {CONFIG_MAX_DEPTH} levels")
    if (depth := block_depth(text)) > CONFIG_MAX_DEPTH:
        raise ValueError(f"nested {depth} levels deep (at most {CONFIG_MAX_DEPTH} are read)")
    loader = SAFE_YAML_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node, CONFIG_MAX_NODES) > CONFIG_MAX_NODES:
            raise ValueError(
                f"aliases expand to more than {CONFIG_MAX_NODES:,} values (an alias bomb?)"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_problem(exc: BaseException) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
    return f"{type(exc).__name__}: {problem}{where}"[:300]


def parse_config(path: str, text: str) -> ConfigRead:
    """A config's values; when the document does not parse, every top-level block that does.

    One bad line (a date that does not exist, a tab indent, an unsafe tag) then costs only
    its block, and the blocks that could not be read are named, never silently defaulted.
    """
    shown_skips: list[SkippedInput] = []
    shown = embeddable(text, path, shown_skips)
    cut = tuple(shown_skips)
    size = len(text.encode("utf-8"))
    if size > CONFIG_PARSE_MAX_BYTES:
        limit = f"{size:,} bytes, too large to parse (limit {CONFIG_PARSE_MAX_BYTES:,} bytes)"
        return ConfigRead(path, shown, {}, limit, shown_in_part=cut)
    try:
        values = load_yaml(text)
    except YAML_ERRORS as exc:
        return replace(_parse_blocks(path, text, shown, _yaml_problem(exc)), shown_in_part=cut)
    if values is None:
        return ConfigRead(path, shown, {}, None, shown_in_part=cut)
    if not isinstance(values, Mapping):
        kind = type(values).__name__
        return ConfigRead(path, shown, {}, f"top level is a {kind}, not a mapping", (), cut)
    return ConfigRead(path, shown, values, None, shown_in_part=cut)


def _parse_blocks(path: str, text: str, shown: str, problem: str) -> ConfigRead:
    values: dict[str, Any] = {}
    unread: list[str] = []
    for block in _top_level_blocks(text):
        try:
            parsed = load_yaml(block)
        except YAML_ERRORS:
            parsed = None
        if isinstance(parsed, Mapping):
            values.update(parsed)
        else:
            unread.append(block.split(":", 1)[0].strip()[:80] or "?")
    return ConfigRead(path, shown, values, problem, tuple(unread))


def _top_level_blocks(text: str) -> list[str]:
    """The document cut before every line that starts a top-level key."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if _TOP_LEVEL_KEY.match(line) or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    return ["\n".join(b) + "\n" for b in blocks if any(_TOP_LEVEL_KEY.match(x) for x in b)]


def read_config(root: Path, rel: str, vetted: VettedFiles | None, max_bytes: int) -> ConfigRead:
    try:
        text = read_bytes(root, rel, vetted, max_bytes).decode("utf-8", errors="replace")
    except LoadError as exc:
        return ConfigRead(rel, None, {}, exc.reason)
    return parse_config(rel, text)


# --- a run's other files ---------------------------------------------------------------------

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})


def _optional(
    root: Path, rel: str, vetted: VettedFiles | None, max_bytes: int, skipped: list[SkippedInput]
) -> bytes | None:
    try:
        return read_bytes(root, rel, vetted, max_bytes)
    except LoadError as exc:
        skipped.append(SkippedInput(rel, exc.reason, exc.reason.startswith("cannot read")))
        return None


def read_text(
    root: Path, rel: str, vetted: VettedFiles | None, max_bytes: int, skipped: list[SkippedInput]
) -> str | None:
    """A text file as the page embeds it, or ``None`` (recorded in ``skipped``)."""
    data = _optional(root, rel, vetted, max_bytes, skipped)
    if data is None:
        return None
    return embeddable(data.decode("utf-8", errors="replace"), rel, skipped)


def read_inputs(
    ref: RunRef, root: Path, max_bytes: int, source: bytes, skipped: list[SkippedInput]
) -> InputFiles:
    """Notes, images and artifacts of a run, each read once within the limits."""
    vetted = ref.vetted_files()
    notes = tuple(
        InputFile(rel, text.encode("utf-8"))
        for rel in ref.notes
        if (text := read_text(root, rel, vetted, max_bytes, skipped)) is not None
    )
    files = [
        InputFile(rel, data)
        for rel in (*ref.images, *ref.artifacts)
        if (data := _optional(root, rel, vetted, max_bytes, skipped)) is not None
    ]
    return InputFiles(
        source_sha256=hashlib.sha256(source).hexdigest(),
        notes=notes,
        images=tuple(f for f in files if PurePosixPath(f.path).suffix.lower() in IMAGE_SUFFIXES),
        artifacts=tuple(
            f for f in files if PurePosixPath(f.path).suffix.lower() not in IMAGE_SUFFIXES
        ),
        skipped=tuple(skipped),
    )
