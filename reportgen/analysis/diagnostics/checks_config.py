"""Checks of the configuration: normalisation, missing configs, per-sequence logging."""

from __future__ import annotations

from collections.abc import Iterator

from reportgen.analysis.contributions import (
    formula_for,
)
from reportgen.analysis.diagnostics.registry import CheckContext, Hit, check
from reportgen.load.models import Schema

# --- configuration ---------------------------------------------------------------------------


@check("normalization-per-sequence", "warning", "Not per-token normalisation", "config")
def normalization_per_sequence(ctx: CheckContext) -> Iterator[Hit]:
    """The run's configuration uses a normalisation other than `per_token`
    (`true_delta_h.report_per_token: false` or `approx_delta_h.normalize` ≠ `per_token`).

    **Why it matters:** the guide's per-token formula for the per-sequence contributions does
    not apply; reportgen uses the per-sequence analogue (every Tᵢ = 1), and ΔH values are not
    comparable with per-token runs.

    **What to do:** compare this run only with runs of the same normalisation.
    """
    norm = ctx.run.normalization
    if ctx.run.schema not in (Schema.SNIS, Schema.SWEEP) or norm.is_per_token:
        return
    formula = f"; contributions use {formula_for(norm)}" if ctx.run.schema is Schema.SNIS else ""
    yield Hit(
        f"normalisation is {norm.true_mode} (true) / {norm.approx_mode} (approx), "
        f"from {norm.source}{formula}"
    )


@check("missing-config", "info", "No config.yaml", "config")
def missing_config(ctx: CheckContext) -> Iterator[Hit]:
    """The run's directory has no `config.yaml`, so its normalisation is inferred.

    Inferred from, in order: a sibling run's `config.yaml` (only `run_01` of a batch keeps
    one), the results file's own `normalization` field, or the guide's default, per-token.

    **Why it matters:** if the run used another configuration than the one assumed, ΔH and
    the per-sequence contributions are computed with the wrong formula.

    **What to do:** nothing if the runs of a batch share one config; otherwise copy the run's
    config next to its results.
    """
    run = ctx.run
    if run.ref.config is not None or run.schema is Schema.GENERIC:
        return
    norm = run.normalization
    unread = ""
    if run.ref.sibling_config and norm.config_path != run.ref.sibling_config:
        unread = f" (the sibling's {run.ref.sibling_config} could not be read)"
    yield Hit(
        f"no config.yaml in {run.ref.directory}; normalisation {norm.true_mode} (true) / "
        f"{norm.approx_mode} (approx) taken from {norm.source}{unread}"
    )


@check("no-per-sequence", "info", "No per-sequence records", "per-sequence")
def no_per_sequence(ctx: CheckContext) -> Iterator[Hit]:
    """An SNIS run without per-sequence approximation records (`approx.per_sequence`).

    **Why it matters:** per-sequence comparisons of the ground truth with the linear and
    quadratic terms are unavailable; only aggregates are shown.

    **What to do:** re-run with `capture_per_sequence=True` in the experiment plan.
    """
    if ctx.snis is None or ctx.snis.approx.per_sequence is not None:
        return
    if ctx.run.ref.plan is None:
        why = "there is no plan.json"
    elif ctx.run.capture_per_sequence is None:
        why = "plan.json does not set capture_per_sequence"
    else:
        why = f"plan.json has capture_per_sequence = {str(ctx.run.capture_per_sequence).lower()}"
    yield Hit(f"no approx.per_sequence records ({why}): per-sequence comparisons are unavailable")
