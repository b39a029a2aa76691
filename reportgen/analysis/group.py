"""A group's cross-run statistics, computed once from its runs: everything its page and summary
show. Pure: samples and cached draws come in through the callables it is given."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from reportgen.analysis.batch import DEFAULT_DRAWS, BatchComparison, DrawMemo
from reportgen.analysis.batch_pairs import (
    BatchesNotCompared,
    batch_populations,
    compare_alike,
    not_compared,
    not_drawn,
)
from reportgen.analysis.diagnostics import group_findings
from reportgen.analysis.diagnostics.checks_supplement import CvBatchReport, group_cv_batch
from reportgen.analysis.group_stats import (
    CvFeatureStats,
    EtaStats,
    PopulationStats,
    RelativeErrors,
    per_eta_stats,
    population_stats,
    relative_errors,
    resolved_at,
)
from reportgen.analysis.members import GroupMember
from reportgen.analysis.merge import Partials, RunStats, merge, rows_by_id, run_stats, uncovered
from reportgen.analysis.per_run import PerRun
from reportgen.analysis.points import RunPoints, SampleSource
from reportgen.analysis.pooling import (
    PooledEta,
    PooledPopulation,
    judge_pooled,
    pool_by_eta,
    run_eta_rows,
)
from reportgen.analysis.populations import (
    DuplicateSet,
    ParameterDiff,
    duplicate_sets,
    populations,
    what_differs,
)
from reportgen.analysis.tails import TailGroupRow, TailSensitivity, TailTable
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.findings import SEVERITIES, Finding
from reportgen.load.cv_aggregate import AggregateFiles
from reportgen.load.parameters import Incidental
from reportgen.treefile import FitWindow

ALL_KEYS = 1 << 62  # no limit: the CSV twin of "what differs" lists every key
SampleLoader = Callable[[str], SampleSource | None]
"""A run's per-sequence sample by id (its arrays read only when drawn from), or ``None``."""


@dataclass(frozen=True)
class GroupSettings:
    """What a group's statistics depend on besides its runs."""

    draws: int = DEFAULT_DRAWS  # batch-size comparison: subsets drawn per larger run
    seed: int = 0
    workers: int = 1  # threads drawing those subsets (the result does not depend on it)
    incidental: tuple[str, ...] = ()  # the tree file's additions to the incidental keys
    equivalence_margin: float = DEFAULT_MARGIN  # of the pooled verdicts
    fit_windows: tuple[FitWindow, ...] = ()  # the tree file's η windows of the fits, by group

    def fit_window(self, group_id: str) -> FitWindow | None:
        """The first window whose pattern matches the group (``None``: fit every η)."""
        return next((w for w in self.fit_windows if fnmatch.fnmatchcase(group_id, w.pattern)), None)


@dataclass(frozen=True)
class GroupAnalysis:
    """A group's statistics. Populations (``PopulationStats``) hold their own per-η rows,
    relative errors, tails and control-variate features; the top-level ``per_eta``, ``relative``
    and ``tails`` span every run, so the summary publishes them only for a group of one
    population, and ``cv`` is that population's (empty with several)."""

    group_id: str
    partials: Partials  # every run's own rows and the agreement counts (they merge upward)
    per_eta: tuple[EtaStats, ...]
    relative: RelativeErrors
    populations: tuple[PopulationStats, ...]
    differs: tuple[ParameterDiff, ...]
    batch: tuple[BatchComparison, ...]
    tails: tuple[TailGroupRow, ...]
    cv: tuple[CvFeatureStats, ...]
    duplicates: tuple[DuplicateSet, ...] = ()  # byte-identical results files: one run each
    differs_more: int = 0  # differing keys not listed in ``differs``
    all_differs: tuple[ParameterDiff, ...] = ()  # every differing key, when ``differs`` is cut
    findings: tuple[Finding, ...] = ()  # the group's own checks
    fit_window: FitWindow | None = None  # the η window of its runs' fits (tree file)
    cv_batch: CvBatchReport | None = None  # its directory's CV batch aggregate, corrected

    @property
    def copies(self) -> frozenset[str]:
        """Runs left out of every statistic: copies of another run."""
        return frozenset(c for s in self.duplicates for c in s.copies)

    @property
    def runs(self) -> Sequence[RunStats]:
        return self.partials.runs


def tail_resolution(
    tails: Collection[tuple[str, TailSensitivity]],
    points: Mapping[str, RunPoints],
    errors: Mapping[str, Sequence[EtaUncertainty | None]],
) -> dict[str, bool | None]:
    """Per run with tails, whether its ΔH_true is resolved from zero at their η (``None``: no
    SE to judge by): a ratio to an unresolved truth divides by noise."""
    return {r: resolved_at(points[r], errors, t.eta) if r in points else None for r, t in tails}


def _tail_rows(
    table: TailTable,
    tails: Collection[str],
    run_ids: Sequence[str],
    all_rows: tuple[TailGroupRow, ...],
    resolution: Mapping[str, bool | None],
) -> tuple[TailGroupRow, ...]:
    """The tail rows of some of the runs (``all_rows`` when they are every run with tails)."""
    wanted = set(run_ids)
    if all(r in wanted for r in tails):
        return all_rows
    return table.rows(resolution, wanted)


def splits_by_batch_size(
    child_runs: Sequence[Sequence[str]], points: Mapping[str, RunPoints]
) -> bool:
    """True when the child groups hold runs of different batch sizes, each child one size."""
    sizes = set()
    for runs in child_runs:
        child_sizes = {points[r].batch_size for r in runs if r in points}
        child_sizes.discard(None)
        if len(child_sizes) != 1:
            return False
        sizes |= child_sizes
    return len(sizes) >= 2


def _usable(child: Partials, members: Mapping[str, GroupMember], with_points: set[str]) -> bool:
    """A child's partials account for some of these runs exactly (else they are recomputed)."""
    if not set(child.run_ids) <= members.keys():
        return False
    return list(child.row_ids) == [r for r in child.run_ids if r in with_points]


def group_partials(
    run_ids: Sequence[str],
    members: Mapping[str, GroupMember],
    points: Mapping[str, RunPoints],
    children: Sequence[Partials] = (),
    window: FitWindow | None = None,
    packed: bool = False,
) -> Partials:
    """The group's partials: its children's merged with the rows of the runs none covers (the
    children's fits must use the same ``window``); ``packed``: its rows as ``PackedRows``."""
    with_points = set(points)
    usable = [c for c in children if _usable(c, members, with_points)]
    direct = {
        r: run_stats(members[r], window) for r in uncovered(run_ids, usable) if r in with_points
    }
    return merge(run_ids, usable, direct, packed)


def analyze_group(
    group_id: str,
    members: Sequence[GroupMember],
    *,
    settings: GroupSettings = GroupSettings(),
    child_runs: Sequence[Sequence[str]] = (),
    children: Sequence[Partials] = (),
    samples: SampleLoader | None = None,
    memo: DrawMemo | None = None,
    aggregate: AggregateFiles | None = None,
    like: GroupAnalysis | None = None,
    packed: bool = False,
) -> GroupAnalysis:
    """The statistics of a group's runs (``members``, in the group's order).

    ``child_runs`` are the run ids of each child group (a group whose children each hold one
    batch size compares them, with the larger runs' ``samples``); ``children`` are the child
    groups' partials, merged instead of recomputed; ``aggregate`` the CV batch aggregate files
    of the group's directory, matched to its runs by their directory names. ``like`` is another
    group's analysis (a single child's): when it has the same runs in the same order and the
    same η window of the fits, its statistics, which depend on nothing else, are taken as they
    are; the batch-size comparison and the group's own files are this group's. ``packed``: its
    runs' rows kept compressed (``PackedRows``), for a group too large to hold them as objects.
    """
    ids = [m.id for m in members]
    with np.errstate(all="ignore"):  # extreme values become None in the tables, not noise
        if like is not None and _same_runs(like, ids, settings.fit_window(group_id)):
            analysis = _taken(group_id, like, members, settings, child_runs, samples, memo)
        else:
            analysis = _analyze(
                group_id, members, settings, child_runs, children, samples, memo, packed
            )
        own = {m.id: m.cv for m in members if m.was_read and m.cv is not None}
        report, found = group_cv_batch(aggregate, ids, own)
    findings = sorted((*analysis.findings, *found), key=lambda f: SEVERITIES.index(f.severity))
    return replace(analysis, cv_batch=report, findings=tuple(findings))


def pooled_rows(
    run_ids: Sequence[str],
    points: Mapping[str, RunPoints],
    errors: Mapping[str, Sequence[EtaUncertainty | None]],
    margin: float,
) -> tuple[PooledEta, ...]:
    """One population's runs pooled per η and judged (each run once: copies left out)."""
    rows = [run_eta_rows(r, points[r].etas, errors[r]) for r in run_ids if r in points]
    return judge_pooled(pool_by_eta(rows), margin)


def _points(members: Mapping[str, GroupMember], copies: set[str]) -> PerRun[RunPoints]:
    """The ΔH(η) points of the runs read, copies left out, in the group's order."""
    with_points = [r for r, m in members.items()
                   if m.was_read and r not in copies and m.points.etas]  # fmt: skip
    return PerRun(with_points, lambda r: members[r].points)


def _largest_tails(members: Mapping[str, GroupMember], copies: set[str]) -> PerRun[TailSensitivity]:
    """Per run with tails (copies left out), the tail sensitivity at its largest η."""
    with_tails = sorted(r for r, m in members.items() if r not in copies and m.tails)
    return PerRun(with_tails, lambda r: max(members[r].tails, key=lambda t: t.eta))


def _batch(
    members: Mapping[str, GroupMember],
    points: Mapping[str, RunPoints],
    child_runs: Sequence[Sequence[str]],
    samples: SampleLoader | None,
    settings: GroupSettings,
    memo: DrawMemo | None,
) -> tuple[tuple[BatchComparison, ...], BatchesNotCompared | None]:
    """The batch-size comparison, when the children each hold one batch size: only runs alike
    in everything but B_E are paired (``batch_pairs``); every row names the runs it leaves
    out. When it is empty, why (``batch_pairs.not_compared``, ``batch_pairs.not_drawn``)."""
    if samples is None or not splits_by_batch_size(child_runs, points):
        return (), None
    incidental = Incidental(settings.incidental)
    pops = batch_populations([members[r].member for r in points], incidental)
    rows = compare_alike(
        pops,
        points,
        samples,
        PerRun(tuple(points), lambda r: members[r].eta_errors),
        draws=settings.draws,
        seed=settings.seed,
        workers=settings.workers,
        memo=memo,
    )
    if rows:
        return rows, None
    return rows, not_compared(pops, points) or not_drawn(pops, points, samples)


def _same_runs(like: GroupAnalysis, run_ids: Sequence[str], window: FitWindow | None) -> bool:
    return like.partials.run_ids == tuple(run_ids) and like.fit_window == window


def _taken(
    group_id: str,
    like: GroupAnalysis,
    members: Sequence[GroupMember],
    settings: GroupSettings,
    child_runs: Sequence[Sequence[str]],
    samples: SampleLoader | None,
    memo: DrawMemo | None,
) -> GroupAnalysis:
    """``like``'s statistics (the same runs, the same window) as this group's, with its own
    batch-size comparison and checks (its CV batch aggregate is added by the caller)."""
    by_id = {m.id: m for m in members}
    points = _points(by_id, set(like.copies))
    pooled = [PooledPopulation(p.population.label, p.pooled) for p in like.populations]
    batch, unpaired = _batch(by_id, points, child_runs, samples, settings, memo)
    return replace(
        like,
        group_id=group_id,
        batch=batch,
        findings=group_findings(like.duplicates, pooled, unpaired),
        cv_batch=None,
    )


def _analyze(
    group_id: str,
    members: Sequence[GroupMember],
    settings: GroupSettings,
    child_runs: Sequence[Sequence[str]],
    children: Sequence[Partials],
    samples: SampleLoader | None,
    memo: DrawMemo | None,
    packed: bool,
) -> GroupAnalysis:
    by_id = {m.id: m for m in members}
    read = [m.member for m in members if m.was_read]
    duplicates = duplicate_sets(read)
    copies = {c for s in duplicates for c in s.copies}
    points = _points(by_id, copies)
    runs = points.each()
    errors = PerRun(tuple(points), lambda r: by_id[r].eta_errors)
    window = settings.fit_window(group_id)
    merged = group_partials([m.id for m in members], by_id, points, children, window, packed)
    rows = rows_by_id(merged.runs)
    agreements = PerRun(merged.row_ids, lambda r: rows[r].agreements)
    per_eta, relative = per_eta_stats(runs), relative_errors(runs, errors)
    tails = _largest_tails(by_id, copies)
    resolution = tail_resolution(tails.items(), points, errors)
    table = TailTable(tails.items())
    all_tails = table.rows(resolution)
    incidental = Incidental(settings.incidental)
    found, margin = populations(read, incidental), settings.equivalence_margin
    cv = {m.id: m.cv for m in members if m.cv is not None and m.id not in copies}
    pops = tuple(
        replace(
            pop,
            tails=_tail_rows(table, tails, pop.population.run_ids, all_tails, resolution),
            pooled=pooled_rows(pop.population.run_ids, points, errors, margin),
        )
        for pop in population_stats(found, points, agreements, errors, (per_eta, relative), cv)
    )
    pooled = [PooledPopulation(p.population.label, p.pooled) for p in pops]
    differs = what_differs(read, incidental)
    batch, unpaired = _batch(by_id, points, child_runs, samples, settings, memo)
    return GroupAnalysis(
        group_id=group_id,
        partials=merged,
        per_eta=per_eta,
        relative=relative,
        populations=pops,
        differs=differs.shown,
        batch=batch,
        tails=all_tails,
        cv=pops[0].cv if len(pops) == 1 else (),  # never averaged across populations
        duplicates=duplicates,
        differs_more=differs.more,
        all_differs=what_differs(read, incidental, ALL_KEYS).shown if differs.more else (),
        findings=group_findings(duplicates, pooled, unpaired),
        fit_window=window,
    )
