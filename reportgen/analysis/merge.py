"""Statistics of a group that merge upward: what a parent takes from its child groups.

A run's own rows (its fit, paired agreement, quadratic help and doubling ratios: ``RunStats``)
are a pure function of the run, so a parent group takes them from its child groups' records
instead of computing them again, and its agreement counts are the sum of theirs. Both merge
exactly: the merged partials equal those computed from every run (integers add exactly, rows
are copied).

Statistics that do not merge are computed from the runs every time: spreads (their medians and
quartiles need every value; their means and standard deviations are summed in one fixed order,
which a sum of partial sums would change in the last bits), populations and "what differs"
(a key that is constant within each child may still differ between children), the batch-size
comparison (a pooled distribution of draws) and the tails' spreads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from reportgen.analysis.fits import Agreement, Fit, agreement, fit_run
from reportgen.analysis.group_stats import AgreementTally, QuadHelp, quad_help, tally
from reportgen.analysis.members import GroupMember
from reportgen.analysis.uncertainty import Doubling
from reportgen.treefile import FitWindow


@dataclass(frozen=True, slots=True)
class RunStats:
    """One run's rows on the pages of the groups that hold it."""

    run_id: str
    batch_size: int | None
    fit: Fit
    agreements: tuple[Agreement, ...]  # per η of the run
    quads: tuple[QuadHelp, ...]  # per η of the run
    doublings: tuple[Doubling, ...]

    @property
    def tally(self) -> AgreementTally:
        return tally(self.agreements)


def run_stats(member: GroupMember, window: FitWindow | None = None) -> RunStats:
    """The rows of one run with ΔH(η) points; its fits over the η of ``window`` (every η when
    ``None``; the bootstrap's slope intervals, which fit every η, only then)."""
    points = member.points
    errors = member.eta_errors
    uncertainty = member.uncertainty
    if window is None:
        fit = fit_run(points, uncertainty)
    else:
        fit = fit_run(replace(points, etas=tuple(s for s in points.etas if window.contains(s.eta))))
    return RunStats(
        run_id=member.id,
        batch_size=points.batch_size,
        fit=fit,
        agreements=agreement(points, errors),
        quads=tuple(quad_help(s, e) for s, e in zip(points.etas, errors, strict=True)),
        doublings=uncertainty.doublings if uncertainty is not None else (),
    )


@dataclass(frozen=True)
class Partials:
    """The mergeable part of a group's statistics.

    ``run_ids`` are every run the partials account for (read or not, with ΔH(η) points or
    not), so a parent knows which of its runs no child covers; ``runs`` hold the rows of those
    with points, in the group's order; ``tally`` counts the paired verdicts of all of them.
    """

    run_ids: tuple[str, ...]
    runs: tuple[RunStats, ...]
    tally: AgreementTally


def add_tallies(tallies: Iterable[AgreementTally]) -> AgreementTally:
    pairs = within_1se = within_2se = 0
    for t in tallies:
        pairs, within_1se, within_2se = (
            pairs + t.pairs,
            within_1se + t.within_1se,
            within_2se + t.within_2se,
        )
    return AgreementTally(pairs, within_1se, within_2se)


def partials(run_ids: Sequence[str], runs: Sequence[RunStats]) -> Partials:
    """Partials computed from every run's rows (``runs`` in the group's order)."""
    return Partials(tuple(run_ids), tuple(runs), add_tallies(r.tally for r in runs))


def merge(
    run_ids: Sequence[str],
    children: Sequence[Partials],
    direct: Mapping[str, RunStats],
) -> Partials:
    """A group's partials from its children's and the rows of its own runs (``direct``).

    ``run_ids`` is the group's run order; every run must be covered by one child or be a key
    of ``direct`` when it has points. The children's counts are added, not recounted.
    """
    rows = dict(direct)
    for child in children:
        rows.update((r.run_id, r) for r in child.runs)
    ordered = tuple(rows[r] for r in run_ids if r in rows)
    total = add_tallies([*(c.tally for c in children), *(direct[r].tally for r in direct)])
    return Partials(tuple(run_ids), ordered, total)


def uncovered(run_ids: Sequence[str], children: Sequence[Partials]) -> list[str]:
    """The runs of a group that none of ``children`` accounts for (its direct runs)."""
    covered = {r for child in children for r in child.run_ids}
    return [r for r in run_ids if r not in covered]
