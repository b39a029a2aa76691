"""Populations: the runs of a group that measure the same thing, and may be pooled.

Two runs belong to one population only when all of these agree: the schema, the *field
fingerprint* of the results file (the key paths it carries, sizes aside: a file written before
the SNIS denominator fix, one without per-sequence capture and one with an extra block are
three different kinds of measurement), B_E, the normalisation, the labels the tree file
declares, and every configuration and plan value except the short incidental list
(``parameters.BUILTIN_INCIDENTAL`` and the tree file's additions). Values compare by a digest of
the whole value. Byte-identical results files are one run (``duplicate_sets``).

Pure: members are small frozen ``PopulationMember`` values, not the build's records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reportgen.load.fingerprint import missing_fields
from reportgen.load.parameters import BUILTIN, Incidental

MISSING = "(not set)"
MAX_DIFFERS = 50  # keys "what differs" lists (splitting keys first); the rest are counted
FIELDS_KEY = "fields"
LABEL_PREFIX = "label."
FIELD_NAMES_SHOWN = 2
SHORT_LABEL = 26  # characters of a lone population's key in a chart title
SHORT_VALUE = 24  # characters of one value in a chart title, unless two would then read alike


@dataclass(frozen=True, slots=True)
class PopulationMember:
    """What deciding a run's population needs of it."""

    id: str
    schema: str
    fields_sha256: str | None = None
    fields: tuple[str, ...] = ()  # its key paths (bounded), to name what another run lacks
    batch_size: int | None = None
    normalization: str | None = None  # "per_token/per_token"
    labels: tuple[tuple[str, str], ...] = ()  # declared in the tree file
    parameter_digests: tuple[tuple[str, str], ...] = ()  # (key, digest of the whole value)
    parameter_values: tuple[tuple[str, str], ...] = ()  # (key, shown text), for the pages
    source_sha256: str | None = None


@dataclass(frozen=True)
class ParameterDiff:
    """One key whose value differs between the runs of a group (``None``: the run lacks it)."""

    key: str
    values: tuple[tuple[str, str | None], ...]  # (run id, shown value), in the group's order
    splits: bool  # it separates populations (not on the incidental list)


@dataclass(frozen=True)
class Population:
    key: tuple[tuple[str, str], ...]  # (what, value) pairs that define it, e.g. ("B_E", "256")
    run_ids: tuple[str, ...]  # each run once: byte-identical copies are left out
    copies: tuple[tuple[str, str], ...] = ()  # (copy, the run it duplicates), both members
    short: str = ""  # its chart-title label among the group's populations (``short_labels``)

    @property
    def label(self) -> str:
        return ", ".join(f"{name} = {value}" for name, value in self.key) or "all runs"

    @property
    def short_label(self) -> str:
        """The label for a chart title: among several populations what tells this one apart
        (``short_labels``: "without vhvv (+1)", "B_E 512"); a lone population's key, values with
        the last part of each key, at most ``SHORT_LABEL`` characters."""
        if self.short:
            return self.short
        text = ", ".join(_short_part(pair) for pair in self.key) or "all runs"
        return _cut(text, SHORT_LABEL)

    def key_json(self) -> dict[str, str]:
        return dict(self.key)


Key = tuple[tuple[str, str], ...]


def _cut(text: str, width: int | None) -> str:
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def _short_part(pair: tuple[str, str], width: int | None = None) -> str:
    """A key's last part and its value ("B_E 256", "clip_c 10"); a fingerprint by its value."""
    name, value = pair
    shown = _cut(value, width)
    return shown if name == FIELDS_KEY else f"{name.rsplit('.', 1)[-1]} {shown}"


def short_labels(keys: Sequence[Key]) -> tuple[str, ...]:
    """Per population key (of a group's populations, keyed alike), a chart-title label that
    tells it apart from every other: the parts of its key that differ from the others
    (``_telling``), in key order, never the prefix the populations share. A long value is cut
    to ``SHORT_VALUE`` characters only where no two populations' values then read alike. ("": no
    part tells it apart, and ``Population.short_label`` names it by its whole key.)"""
    widths = [_cut_width([key[c][1] for key in keys]) for c in range(len(keys[0]))] if keys else []
    return tuple(
        ", ".join(_short_part(key[c], widths[c]) for c in sorted(_telling(keys, i)))
        for i, key in enumerate(keys)
    )


def _telling(keys: Sequence[Key], i: int) -> set[int]:
    """The fewest columns that tell population ``i`` from every other, chosen greedily: the
    column that differs from most of the populations still alike first (ties: a set value
    before "(not set)", then key order)."""
    mine = keys[i]
    chosen: set[int] = set()
    alike = [key for j, key in enumerate(keys) if j != i]
    while alike:
        told = [sum(1 for key in alike if key[c][1] != value) for c, (_, value) in enumerate(mine)]
        best = max(range(len(mine)), key=lambda c: (told[c], mine[c][1] != MISSING, -c))
        if not told[best]:  # keys alike in every column: nothing tells them apart
            break
        chosen.add(best)
        alike = [key for key in alike if key[best][1] == mine[best][1]]
    return chosen


def _cut_width(values: Sequence[str]) -> int | None:
    """The narrowest width from ``SHORT_VALUE`` at which the distinct values differ before any
    cut ("…"), so a title never hides where two populations' values part (``None``: uncut)."""
    distinct = set(values)
    for width in range(SHORT_VALUE, max(map(len, distinct), default=0)):
        if len({v[: width - 1] for v in distinct}) == len(distinct):
            return width
    return None


@dataclass(frozen=True)
class DuplicateSet:
    """Runs whose results files are byte-identical (same sha256): one run for every statistic.

    The canonical run is the first id in code-point order, so the choice does not depend on
    the order in which runs were found or listed.
    """

    sha256: str
    run_ids: tuple[str, ...]  # sorted; the first is canonical

    @property
    def canonical(self) -> str:
        return self.run_ids[0]

    @property
    def copies(self) -> tuple[str, ...]:
        return self.run_ids[1:]


def duplicate_sets(members: Iterable[PopulationMember]) -> tuple[DuplicateSet, ...]:
    """Every set of two or more members with the same results-file hash, by canonical id."""
    by_hash: dict[str, list[str]] = {}
    for m in members:
        if m.source_sha256:
            by_hash.setdefault(m.source_sha256, []).append(m.id)
    sets = [DuplicateSet(h, tuple(sorted(set(ids)))) for h, ids in by_hash.items() if len(ids) > 1]
    return tuple(sorted((s for s in sets if len(s.run_ids) > 1), key=lambda s: s.canonical))


def counted_once(members: Sequence[PopulationMember]) -> list[PopulationMember]:
    """The members without the non-canonical copies of a duplicate set, in their order."""
    copies = {c for s in duplicate_sets(members) for c in s.copies}
    return [m for m in members if m.id not in copies]


# --- population keys -------------------------------------------------------------------------


def _field_labels(members: Sequence[PopulationMember]) -> dict[str | None, str]:
    """A short name per fingerprint: the topmost fields it lacks of the union of its schema's
    fingerprints in the group (another schema's fields are not missing)."""
    unions: dict[str, set[str]] = {}
    for m in members:
        unions.setdefault(m.schema, set()).update(m.fields)
    names: dict[str | None, str] = {}
    schema_of: dict[str | None, str] = {}
    for m in members:
        if m.fields_sha256 in names:
            continue
        missing = missing_fields(m.fields, frozenset(unions[m.schema]))
        shown = ", ".join(distinct_suffixes(missing)[:FIELD_NAMES_SHOWN])
        more = len(missing) - FIELD_NAMES_SHOWN
        names[m.fields_sha256] = (
            f"without {shown}{f' (+{more})' if more > 0 else ''}" if missing else "every field"
        )
        schema_of[m.fields_sha256] = m.schema
    alike = Counter((schema_of[k], v) for k, v in names.items())
    return {  # two fingerprints of one schema named alike (extra blocks in both): tell apart
        k: f"{v} ({(k or '?')[:8]})" if alike[(schema_of[k], v)] > 1 else v
        for k, v in names.items()
    }


def distinct_suffixes(paths: Sequence[str]) -> list[str]:
    """Each dotted path by its shortest suffix that no other path ends in ("var_logp" alone
    where one path ends so, "corr.var_logp" and "ols_beta.var_logp" where two do)."""
    parts = [p.split(".") for p in paths]
    out = []
    for mine in parts:
        depth = 1
        while depth < len(mine) and any(
            other is not mine and other[-depth:] == mine[-depth:] for other in parts
        ):
            depth += 1
        out.append(".".join(mine[-depth:]))
    return out


def _splitting_parameters(members: Sequence[PopulationMember], incidental: Incidental) -> list[str]:
    # one dict per distinct configuration, not per member: a very large group has few
    digests = [dict(pairs) for pairs in {m.parameter_digests for m in members}]
    keys = sorted({k for d in digests for k in d})
    return [k for k in keys if k not in incidental and len({d.get(k) for d in digests}) > 1]


def _shown(member: PopulationMember, key: str, digest: str | None) -> str:
    if digest is None:
        return MISSING
    value = dict(member.parameter_values).get(key)
    if value is None:
        return f"value {digest}"
    return f"{value} ({digest[:8]})" if value.endswith("…") else value  # cut: tell apart


def population_key(
    member: PopulationMember,
    splitting: Sequence[str],
    label_keys: Sequence[str],
    field_labels: dict[str | None, str],
) -> tuple[tuple[str, str], ...]:
    """Every (what, value) pair that defines the member's population, in a fixed order."""
    digests = dict(member.parameter_digests)
    labels = dict(member.labels)
    return (
        ("schema", member.schema),
        ("B_E", str(member.batch_size) if member.batch_size is not None else MISSING),
        ("normalization", member.normalization or MISSING),
        (FIELDS_KEY, field_labels.get(member.fields_sha256, MISSING)),
        *((LABEL_PREFIX + k, labels.get(k, MISSING)) for k in label_keys),
        *((key, _shown(member, key, digests.get(key))) for key in splitting),
    )


def _identity(
    member: PopulationMember, splitting: Sequence[str], label_keys: Sequence[str]
) -> tuple[object, ...]:
    """What two members of one population share exactly (digests, not shown values)."""
    digests = dict(member.parameter_digests)
    labels = dict(member.labels)
    return (
        member.schema,
        member.fields_sha256,
        member.batch_size,
        member.normalization,
        tuple(labels.get(k) for k in label_keys),
        tuple(digests.get(k) for k in splitting),
    )


def populations(
    members: Sequence[PopulationMember], incidental: Incidental = BUILTIN
) -> tuple[Population, ...]:
    """The members grouped by population, in order of first appearance, each run once.

    A population's key names only what tells it apart from the group's other populations (a
    uniform group is one population keyed by schema, B_E and normalisation).
    """
    unique = counted_once(members)
    splitting = _splitting_parameters(unique, incidental)
    label_keys = sorted({k for m in unique for k, _ in m.labels})
    names = _field_labels(unique)
    order: list[tuple[object, ...]] = []
    grouped: dict[tuple[object, ...], list[PopulationMember]] = {}
    for m in unique:
        identity = _identity(m, splitting, label_keys)
        if identity not in grouped:
            order.append(identity)
            grouped[identity] = []
        grouped[identity].append(m)
    keys = [population_key(grouped[i][0], splitting, label_keys, names) for i in order]
    copies = {c: s.canonical for s in duplicate_sets(members) for c in s.copies}
    result = []
    for identity, key in zip(order, keys, strict=True):
        ids = tuple(m.id for m in grouped[identity])
        own = tuple((c, k) for c, k in sorted(copies.items()) if k in ids)
        result.append(Population(key, ids, own))
    if len(result) > 1:  # name a population by what tells it apart from the others
        varying = _distinct_columns([p.key for p in result])
        keys = [tuple(p.key[i] for i in varying) for p in result]
        return tuple(
            Population(key, p.run_ids, p.copies, short)
            for p, key, short in zip(result, keys, short_labels(keys), strict=True)
        )
    return tuple(Population(p.key[:3], p.run_ids, p.copies) for p in result)


def _distinct_columns(keys: Sequence[tuple[tuple[str, str], ...]]) -> list[int]:
    """Positions of the key that vary, leaving out one that splits the populations exactly as an
    earlier one does (B_E and ``config.batch_config.B_E`` name the same split once)."""
    kept: list[int] = []
    seen: set[tuple[int, ...]] = set()
    for i in range(len(keys[0])):
        values = [k[i][1] for k in keys]
        if len(set(values)) < 2:
            continue
        partition = tuple(values.index(v) for v in values)  # which populations share a value
        if partition not in seen:
            seen.add(partition)
            kept.append(i)
    return kept


# --- what differs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatDiffers:
    """The keys whose values differ between a group's runs: the first ``limit`` (splitting keys
    first, then by key) with every run's shown value, and how many more there are."""

    shown: tuple[ParameterDiff, ...]
    more: int  # differing keys not listed
    splitting: int  # of all differing keys, those that split populations

    @property
    def total(self) -> int:
        return len(self.shown) + self.more


def what_differs(
    members: Sequence[PopulationMember],
    incidental: Incidental = BUILTIN,
    limit: int = MAX_DIFFERS,
) -> WhatDiffers:
    """Labels, field fingerprints and configuration or plan values that are not the same in
    every run (copies of a run left out)."""
    unique = counted_once(members)
    rows: list[ParameterDiff] = []
    ids = [m.id for m in unique]
    if len({m.fields_sha256 for m in unique}) > 1:
        names = _field_labels(unique)
        values = tuple(zip(ids, (names[m.fields_sha256] for m in unique), strict=True))
        rows.append(ParameterDiff(FIELDS_KEY, values, splits=True))
    for key in sorted({k for m in unique for k, _ in m.labels}):
        seen = [dict(m.labels).get(key) for m in unique]
        if len(set(seen)) > 1:
            rows.append(ParameterDiff(LABEL_PREFIX + key, tuple(zip(ids, seen, strict=True)), True))
    # runs of one configuration share their pairs: one dict each, not one a run
    distinct = {pairs: dict(pairs) for pairs in {m.parameter_digests for m in unique}}
    digests = [distinct[m.parameter_digests] for m in unique]
    keys = sorted({k for d in distinct.values() for k in d})
    differing = [k for k in keys if len({d.get(k) for d in distinct.values()}) > 1]
    ordered = [k for k in differing if k not in incidental]
    splitting = len(ordered) + len(rows)
    ordered += [k for k in differing if k in incidental]
    room = max(limit - len(rows), 0)
    for key in ordered[:room]:
        shown = tuple(
            (m.id, None if d.get(key) is None else _shown(m, key, d.get(key)))
            for m, d in zip(unique, digests, strict=True)
        )
        rows.append(ParameterDiff(key, shown, splits=key not in incidental))
    return WhatDiffers(tuple(rows), max(len(ordered) - room, 0), splitting)


def differing_parameters(
    members: Sequence[PopulationMember],
    incidental: Incidental = BUILTIN,
    limit: int = MAX_DIFFERS,
) -> tuple[ParameterDiff, ...]:
    """The listed rows of ``what_differs`` (at most ``limit``)."""
    return what_differs(members, incidental, limit).shown
