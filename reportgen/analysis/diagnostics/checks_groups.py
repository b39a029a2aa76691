"""Checks of a group's runs taken together (the group page reports them)."""

from __future__ import annotations

from collections.abc import Iterator

from reportgen.analysis.batch_pairs import BatchesNotCompared
from reportgen.analysis.diagnostics.registry import Hit, check, fmt, fmt_eta
from reportgen.analysis.pooling import RANDOM, PooledPopulation
from reportgen.analysis.populations import DuplicateSet


@check("duplicate-run", "info", "Byte-identical results files", "populations", scope="group")
def duplicate_run(duplicates: DuplicateSet) -> Iterator[Hit]:
    """Two or more results files of the group have the same content (the same sha256): they
    are one run, counted once in every statistic. The run kept is the first id in code-point
    order; the copies are listed beside it.

    **Why it matters:** a copied file counted twice doubles its weight in every mean, pooled
    estimate and "n of m runs" count, and makes the runs look more consistent than they are.

    **What to do:** nothing for the statistics; delete the copy, or label it in
    `reportgen.toml` if it was kept on purpose.
    """
    copies = ", ".join(duplicates.copies)
    verb = "is" if len(duplicates.copies) == 1 else "are"
    yield Hit(
        f"{copies} {verb} byte-identical to {duplicates.canonical} (sha256 "
        f"{duplicates.sha256[:12]}): counted once"
    )


@check(
    "batch-sizes-not-compared",
    "info",
    "Batch sizes not compared, and why",
    "populations",
    scope="group",
)
def batch_sizes_not_compared(unpaired: BatchesNotCompared) -> Iterator[Hit]:
    """The group's subgroups each hold one batch size, but the group page has no batch-size
    comparison. Either no run of one batch size shares every configuration value but B_E with
    a run of another (every population of runs alike but for B_E holds a single batch size:
    the finding names each, its batch size and the keys in which it differs from the others),
    or such runs exist but nothing could be drawn: their larger batch sizes have no
    per-sequence sample (per-sequence contributions) to draw smaller batches from, or the
    sizes share no η.

    **Why it matters:** a difference in batch size cannot be told apart from the other
    difference (a learning-rate schedule, a model, a results file written before a fix):
    comparing such runs would credit B_E with what the other key did.

    **What to do:** nothing, if the runs were meant to differ; to compare batch sizes, run
    each size with the same configuration (and its per-sequence contributions, at the same
    η), or add a key that cannot change the experiment to `incidental` in `reportgen.toml`.
    """
    sizes = ", ".join(map(str, unpaired.sizes))
    if unpaired.why is not None:
        yield Hit(f"batch sizes {sizes} are not compared: {unpaired.why}")
        return
    parts = [
        f"B_E {', '.join(map(str, p.sizes))} ({p.runs} run{'s' * (p.runs != 1)}) {p.reason}"
        for p in unpaired.populations
    ]
    yield Hit(
        f"batch sizes {sizes} are not compared: no run of one batch size shares every "
        f"configuration value but B_E with a run of another. {'; '.join(parts)}"
    )


@check(
    "population-heterogeneous",
    "warning",
    "Runs of one population differ more than their noise explains",
    "pooled",
    scope="group",
)
def population_heterogeneous(population: PooledPopulation) -> Iterator[Hit]:
    """Within one population, the runs' linear − true differences are spread more widely than
    their standard errors allow: Cochran's Q (Σ w_i·(y_i − ŷ)², w_i = 1/se_i²) is beyond the
    95th percentile of χ² on k − 1 degrees of freedom. I² is the share of the spread that
    noise does not explain.

    **Why it matters:** runs that differ by more than noise may not be the same experiment (a
    code change between them, a setting not recorded); their fixed-effect pooled value
    describes none of them. The page shows the DerSimonian–Laird random-effects estimate
    beside it, whose wider SE carries the spread, and judges with that one.

    **What to do:** look at the runs named furthest from the pooled value; label their epoch
    in `reportgen.toml` if they were made differently, so that they form a population of
    their own.
    """
    rows = [r for r in population.rows if r.linear is not None and r.linear.diff.heterogeneous]
    if not rows:
        return
    parts = []
    for r in rows:
        d = r.linear.diff if r.linear is not None else None
        assert d is not None
        parts.append(
            f"η = {fmt_eta(r.eta)}: Q = {fmt(d.q, 3)} on {d.q_df} df (p = {fmt(d.q_p, 2)}), "
            f"I² = {fmt(d.i2, 2)}"
        )
    furthest = sorted({run for r in rows if r.linear is not None for run in r.linear.furthest})
    yield Hit(
        f"{population.label}: linear − true is heterogeneous at {'; '.join(parts)}; furthest "
        f"from the pooled value: {', '.join(furthest)}: these runs may not be the same "
        "experiment",
        etas=tuple(r.eta for r in rows),
    )


@check(
    "pooled-linear-disagrees",
    "warning",
    "The pooled linear prediction disagrees with ΔH_true",
    "pooled",
    scope="group",
)
def pooled_linear_disagrees(population: PooledPopulation) -> Iterator[Hit]:
    """A population's runs pooled at one η (inverse-variance weights 1/se_diff², or
    DerSimonian–Laird random effects when the runs are heterogeneous) give a linear − true
    difference beyond 1.96 of its standard error: together the runs resolve an error that
    each alone may not.

    **Why it matters:** single runs can each be inconclusive while their pooled estimate is
    not; the pooled ratio linear/true says by how much the linear prediction over- or
    undershoots |ΔH_true| at that η.

    **What to do:** read the pooled ratio and its interval on the group page; the linear
    approximation does not hold at that η for this experiment.
    """
    rows = [r for r in population.rows if r.verdict_linear == "disagrees" and r.linear]
    if not rows:
        return
    parts = []
    for r in rows:
        p = r.linear
        assert p is not None
        random = p.method == RANDOM
        d = p.diff.random if random else p.diff.fixed
        ratio = None if p.ratio is None else (p.ratio.random if random else p.ratio.fixed)
        shown = "" if ratio is None else f", linear/true {fmt(ratio.value, 3)} ± {fmt(ratio.se, 2)}"
        parts.append(
            f"η = {fmt_eta(r.eta)}: {fmt(d.value, 3)} ± {fmt(d.se, 2)} (z {fmt(d.z, 3)}{shown})"
        )
    yield Hit(
        f"{population.label}: the runs' pooled linear − true disagrees at {'; '.join(parts)}",
        etas=tuple(r.eta for r in rows),
    )
