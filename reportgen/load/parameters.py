"""A run's configuration and plan as flat parameters, each compared by a digest of its value.

Populations compare *every* key by a digest of its *whole* value; what pages show of a value
is its compact JSON text cut to ``MAX_VALUE_CHARS``. Nothing here recurses: a configuration
nested a thousand levels deep is flattened to ``MAX_DEPTH`` levels and the rest of each deeper
branch becomes one value, digested in full.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32  # dotted-key levels; a deeper branch is one value (digested whole)
MAX_SHOWN = 2_000  # keys whose value text a run keeps for the pages
MAX_COMPARED = 10_000  # keys with a digest of their own; the rest share one (REST_KEY)
MAX_VALUE_CHARS = 200
DIGEST_BYTES = 8  # 16 hex digits: collisions between two values of one key are negligible
REST_KEY = "(keys beyond the first 10,000)"

# Keys whose values may differ between runs of one experiment: they cannot change what is
# measured. An entry matches a key, or any tail of it after a dot (``*`` matches dots too):
# ``seed`` matches ``config.generation.seed``, ``wandb.name`` ``config.wandb.name``. The list
# is short on purpose; a tree's ``reportgen.toml`` may add entries (``incidental = [...]``).
BUILTIN_INCIDENTAL: tuple[str, ...] = (
    # seeds
    "seed",
    "seeds",
    "*_seed",
    "random_state",
    # timestamps
    "timestamp",
    "*_timestamp",
    "created_at",
    "started_at",
    "finished_at",
    "start_time",
    "end_time",
    # output, log and cache locations
    "output_dir",
    "output_directory",
    "out_dir",
    "results_dir",
    "results_path",
    "save_dir",
    "log_dir",
    "logging_dir",
    "log_directory",
    "cache_dir",
    # run and wandb names
    "run_name",
    "run_id",
    "wandb_name",
    "wandb_run_name",
    "wandb_run_id",
    "wandb.name",
    "wandb.run_name",
    "wandb.id",
    # the η grid: where ΔH is measured, not what (cross-run statistics are per η anyway)
    "eta_list",
)


def nfc(key: object) -> str:
    """A key as text, Unicode-normalised (NFC): visually identical keys are one key."""
    return unicodedata.normalize("NFC", key if isinstance(key, str) else str(key))


# --- incidental keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class Incidental:
    """The keys that do not split populations: the built-in list plus a tree's own entries."""

    extra: tuple[str, ...] = ()

    @property
    def entries(self) -> tuple[str, ...]:
        return BUILTIN_INCIDENTAL + self.extra

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        match = _matcher(self.entries).match
        return any(match(tail) for tail in _tails(key))


BUILTIN = Incidental()


def _tails(key: str) -> Iterator[str]:
    """The key and each tail of it after a dot."""
    parts = key.casefold().split(".")
    return (".".join(parts[i:]) for i in range(len(parts)))


_MATCHERS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _matcher(entries: tuple[str, ...]) -> re.Pattern[str]:
    pattern = _MATCHERS.get(entries)
    if pattern is None:
        alternatives = "|".join(fnmatch.translate(e.casefold()) for e in entries)  # each ends \Z
        pattern = _MATCHERS[entries] = re.compile(alternatives)
    return pattern


def is_incidental(key: str, incidental: Incidental = BUILTIN) -> bool:
    return key in incidental


# --- values: one digest of the whole value, and a short text to show -------------------------


def _scalar(value: Any) -> tuple[bytes, str]:
    """Type-tagged bytes (NaN, ±Infinity and null all differ) and the JSON-like text."""
    if value is None:
        return b"n", "null"
    if value is True or value is False:
        return (b"t", "true") if value else (b"f", "false")
    if isinstance(value, int):
        text = str(value)
        return b"i" + text.encode() + b";", text
    if isinstance(value, float):
        if math.isnan(value):
            return b"d:nan;", "NaN"
        if math.isinf(value):
            return (b"d:+inf;", "Infinity") if value > 0 else (b"d:-inf;", "-Infinity")
        text = repr(value)
        return b"d" + text.encode() + b";", text
    tag, text = (b"s", value) if isinstance(value, str) else (b"o", str(value))  # e.g. a date
    data = text.encode("utf-8", "surrogatepass")
    return tag + str(len(data)).encode() + b":" + data, json.dumps(text[:MAX_VALUE_CHARS])


_END = object()


@dataclass(frozen=True)
class _Key:
    """A mapping key in the token stream (its value follows without a separator)."""

    name: str


def _key_values(pairs: Sequence[tuple[str, Any]]) -> Iterator[Any]:
    for key, value in pairs:
        yield _Key(key)
        yield value


def _opening(item: Any) -> tuple[Iterator[Any], bytes, str, bytes, str] | None:
    """An iterator over a container's items, with its opening and closing tokens."""
    if isinstance(item, Mapping):
        pairs = sorted((nfc(k), v) for k, v in item.items())
        return _key_values(pairs), b"{", "{", b"}", "}"
    if isinstance(item, list | tuple):
        return iter(item), b"[", "[", b"]", "]"
    return None


def _tokens(value: Any) -> Iterator[tuple[bytes, str]]:
    """The value's tokens, depth first, with an explicit stack (no recursion at any depth)."""
    stack: list[tuple[Iterator[Any], bytes, str]] = []
    pending: Any = value
    separator = ""
    while True:
        if pending is not _END:
            item, pending = pending, _END
            container = _opening(item)
            if isinstance(item, _Key):
                data = item.name.encode("utf-8", "surrogatepass")
                yield (
                    b"k" + str(len(data)).encode() + b":" + data,
                    (f"{separator}{json.dumps(item.name[:MAX_VALUE_CHARS])}:"),
                )
                separator = ""
                continue
            if container is not None:
                iterator, open_data, open_text, close_data, close_text = container
                yield open_data, separator + open_text
                stack.append((iterator, close_data, close_text))
                separator = ""
                continue
            data, text = _scalar(item)
            yield data, separator + text
            separator = ","
        if not stack:
            return
        iterator, close_data, close_text = stack[-1]
        nxt = next(iterator, _END)
        if nxt is _END:
            stack.pop()
            yield close_data, close_text
            separator = ","
        else:
            pending = nxt


def encode(value: Any) -> tuple[str, str]:
    """``(digest, text)``: a digest of the whole value and its JSON-like text, cut to
    ``MAX_VALUE_CHARS`` (with "…")."""
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    shown: list[str] = []
    length = 0
    for data, text in _tokens(value):
        digest.update(data)
        if length <= MAX_VALUE_CHARS:
            shown.append(text)
            length += len(text)
    out = "".join(shown)
    if len(out) > MAX_VALUE_CHARS:
        out = out[: MAX_VALUE_CHARS - 1] + "…"
    return digest.hexdigest(), out


# --- flattening ------------------------------------------------------------------------------


def _leaves(data: Mapping[Any, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` of every leaf down to ``MAX_DEPTH`` levels, without recursion."""
    stack: list[tuple[str, Mapping[Any, Any], int]] = [(prefix, data, 1)]
    while stack:
        path, mapping, depth = stack.pop()
        for key, value in mapping.items():
            name = f"{path}.{nfc(key)}" if path else nfc(key)
            if isinstance(value, Mapping) and value and depth < MAX_DEPTH:
                stack.append((name, value, depth + 1))
            else:
                yield name, value


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Leaves of nested mappings as dotted keys, values as their shown (compact JSON) text."""
    if not isinstance(data, Mapping):
        return {prefix: encode(data)[1]}
    return {key: encode(value)[1] for key, value in _leaves(data, prefix)}


@dataclass(frozen=True)
class Parameters:
    """A run's flat parameters: every key's digest, and the shown text of the first keys."""

    shown: tuple[tuple[str, str], ...] = ()  # (key, text), sorted, at most MAX_SHOWN
    digests: tuple[tuple[str, str], ...] = ()  # (key, digest), sorted, every key (REST_KEY)


def run_parameters(config: Mapping[str, Any] | None, plan: Mapping[str, Any] | None) -> Parameters:
    """``config.<key>`` and ``plan.<key>`` leaves: digests of all, texts of the first."""
    leaves: dict[str, Any] = {}
    for prefix, data in (("config", config), ("plan", plan)):
        if data:
            leaves.update(_leaves(data, prefix))
    keys = sorted(leaves)
    encoded = [(key, encode(leaves[key])) for key in keys[:MAX_COMPARED]]
    digests = [(key, digest) for key, (digest, _) in encoded]
    if len(keys) > MAX_COMPARED:
        rest = {key: leaves[key] for key in keys[MAX_COMPARED:]}
        digests.append((REST_KEY, encode(rest)[0]))
    shown = tuple((key, text) for key, (_, text) in encoded[:MAX_SHOWN])
    return Parameters(shown, tuple(digests))


def splitting_keys(
    digests: Iterable[Mapping[str, str]], incidental: Incidental = BUILTIN
) -> tuple[list[str], list[str]]:
    """``(splitting, incidental)``: the keys whose digests differ between the given runs."""
    maps = list(digests)
    keys = sorted({k for m in maps for k in m})
    differing = [k for k in keys if len({m.get(k) for m in maps}) > 1]
    return (
        [k for k in differing if k not in incidental],
        [k for k in differing if k in incidental],
    )
