"""Checks of what could be read: unreadable files, unknown formats, dropped η, skipped inputs."""

from __future__ import annotations

from collections.abc import Iterator

from reportgen.analysis.diagnostics.registry import CheckContext, Hit, check
from reportgen.discover import IncompleteRun
from reportgen.load.models import LoadFailure, Schema

# --- load problems ---------------------------------------------------------------------------


@check("parse-error", "error", "Results file cannot be read", "error", scope="failure")
def parse_error(failure: LoadFailure) -> Iterator[Hit]:
    """The results file could not be read, is not valid JSON, or its top level is not an object.

    **Why it matters:** nothing about the run can be shown; its page only reports the reason.

    **What to do:** open the file at the line and column given. An empty or truncated file
    usually means the run was still writing or died; re-run it or delete the partial file.
    """
    where = ""
    if failure.line is not None:
        where = f" (line {failure.line}" + (
            f", column {failure.column})" if failure.column is not None else ")"
        )
    hint = f" {failure.hint}" if failure.hint else ""
    yield Hit(f"{failure.file}: {failure.reason}{where}.{hint}")


@check("incomplete-run", "warning", "Run without results", "error", scope="incomplete")
def incomplete_run(incomplete: IncompleteRun) -> Iterator[Hit]:
    """A directory has `plan.json` but no results file.

    **Why it matters:** the run is still going, or it died before writing results; it has no
    page and is missing from every comparison.

    **What to do:** wait for the run to finish, or check its logs and re-run it.
    """
    yield Hit(
        f"{incomplete.directory} has {incomplete.plan} but no results file: "
        "the run is still going, or it died."
    )


@check("unknown-schema", "info", "Unknown results format", "facts")
def unknown_schema(ctx: CheckContext) -> Iterator[Hit]:
    """The JSON object matches no known schema generation (SNIS, η sweep, control variates).

    **Why it matters:** no ΔH arithmetic or checks apply; the page lists the file's fields only.

    **What to do:** nothing if the file is not a run. If it is, its format is new: extend the
    loader with a schema for it.
    """
    if ctx.run.schema is Schema.GENERIC:
        yield Hit(
            f"{ctx.run.ref.source} matches no known schema (SNIS, η sweep, control variates); "
            f"its {len(ctx.run.generic)} fields are listed as they are."
        )


@check("non-finite-eta", "error", "NaN or infinite η", "eta-table")
def non_finite_eta(ctx: CheckContext) -> Iterator[Hit]:
    """An η (a ground-truth entry's, a sweep row's, or a `ratio_pred` key) is NaN or ±Infinity.

    **Why it matters:** an η that is not a number cannot be placed on any axis, table or fit.
    The loader leaves the row out, so the rest of the run (and every page built from it) is
    computed from the other η; this finding names what was left out.

    **What to do:** the writer of the results file divided by zero or wrote a placeholder;
    fix the η in the file or re-run that η.
    """
    if ctx.run.dropped:
        listed = ", ".join(f"{d.where} = {d.value}" for d in ctx.run.dropped[:10])
        more = f" and {len(ctx.run.dropped) - 10} more" if len(ctx.run.dropped) > 10 else ""
        yield Hit(f"left out {len(ctx.run.dropped)} row(s) whose η is not finite: {listed}{more}")


@check("no-ground-truth", "warning", "No ground-truth entries", "eta-table")
def no_ground_truth(ctx: CheckContext) -> Iterator[Hit]:
    """An SNIS run whose `true.entries` is empty or absent (or whose every η was left out).

    **Why it matters:** there is no ΔH_true to compare the approximations with; the page
    shows the approximation only, and the run is missing from every cross-run comparison.

    **What to do:** the ground-truth pass did not run or did not finish; re-run it.
    """
    if ctx.snis is not None and not ctx.snis.entries:
        yield Hit("true.entries is empty: no η has a ground truth to compare with")


@check("config-unreadable", "error", "config.yaml could not be read", "config")
def config_unreadable(ctx: CheckContext) -> Iterator[Hit]:
    """The run's `config.yaml`, or the sibling's it borrows, could not be read or parsed
    (permission denied, a line YAML rejects, an alias bomb, a file too large to parse).

    **Why it matters:** the config decides the normalisation, and with it every per-sequence
    contribution (per-token and per-sequence differ by orders of magnitude). reportgen reads
    every top-level block that does parse; a setting it could not read is assumed from the
    results file or the guide's per-token default, and the page says so.

    **What to do:** fix the file at the line given (YAML rejects tabs for indentation, dates
    that do not exist and Python tags), or make it readable by the user running reportgen.
    """
    for problem in ctx.run.config_problems:
        whose = "the borrowed sibling config " if problem.borrowed else ""
        unread = (
            f"; blocks not read: {', '.join(problem.unread_keys)}" if problem.unread_keys else ""
        )
        norm = ctx.run.normalization
        yield Hit(
            f"{whose}{problem.path}: {problem.reason}{unread}; normalisation used: "
            f"{norm.true_mode} (true) / {norm.approx_mode} (approx), from {norm.source}"
        )


@check("input-skipped", "warning", "A file of the run is not shown", "artifacts")
def input_skipped(ctx: CheckContext) -> Iterator[Hit]:
    """A note, image, artifact or `plan.json` of the run was not read, or only in part.

    Reasons: the file cannot be read (permissions, I/O error), it is larger than
    `--max-file-size`, its text is longer than a page embeds (the page shows the start), or
    `plan.json` is not a JSON object.

    **Why it matters:** the page is missing something its author put beside the results.

    **What to do:** follow the reason given: fix permissions, raise `--max-file-size`, or
    shorten the file.
    """
    skipped = ctx.run.inputs.skipped
    if skipped:  # one finding per check and η: every file is named in it
        yield Hit("; ".join(f"{s.path}: {s.reason}" for s in skipped))
