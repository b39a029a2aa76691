"""The rows behind ``reportgen.api``'s DataFrames, built from the same records the site
publishes (``serialize``'s twins, ``pooling``'s estimates): no number is computed twice.

pandas is imported only when a table is asked for (``require_pandas``), so ``import reportgen``
and the command line never need it. ``pages.serialize`` is imported where used: the pages
package must not be the first of the build's modules a process imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from reportgen.analysis.contributions import EtaContributions
from reportgen.analysis.pooling import PooledEta, judge_pooled, pool_by_eta, run_eta_rows
from reportgen.analysis.populations import Population, populations
from reportgen.analysis.record import RunRecord
from reportgen.findings import Finding
from reportgen.load.parameters import Incidental

Row = dict[str, Any]

PANDAS_MISSING = (
    "reportgen's tables are pandas DataFrames, and pandas is not installed: "
    'pip install "reportgen[notebook]"'
)
# the columns a notebook reads first; every other published field follows in its own order
LEADING = (
    "run",
    "group",
    "population",
    "eta",
    "delta_h_true",
    "se_true",
    "delta_h_linear",
    "diff_linear",
    "se_diff_linear",
    "z_linear",
    "verdict_linear",
    "delta_h_linquad",
    "diff_linquad",
    "se_diff_linquad",
    "z_linquad",
    "verdict_linquad",
    "run_verdict_linear",
)
FINDING_COLUMNS = ("run", "id", "severity", "message", "eta", "etas")
POOLED_LEADING = ("population", "runs", "eta", "n_runs", "diff_linear", "se_diff_linear")


def require_pandas() -> Any:
    """pandas, or an ImportError that says how to install it."""
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(PANDAS_MISSING) from exc
    return pandas


def frame(rows: Sequence[Row], leading: Sequence[str] = ()) -> Any:
    """A DataFrame of ``rows``, the ``leading`` columns first (present ones only; all of them,
    and no rows, when there are no rows)."""
    pd = require_pandas()
    if not rows:
        return pd.DataFrame(columns=list(leading))
    columns: dict[str, None] = {c: None for c in leading if any(c in r for r in rows)}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pd.DataFrame.from_records(list(rows), columns=list(columns))


def flat(data: Mapping[str, Any]) -> Row:
    """A published JSON row with one column per value: a ``ci95_*`` pair becomes ``*_lo`` and
    ``*_hi``, a ``random_effects*`` object its ``random_*`` columns."""
    out: Row = {}
    for key, value in data.items():
        if key.startswith("ci95_"):
            low, high = value if value is not None else (None, None)
            out[f"{key}_lo"], out[f"{key}_hi"] = low, high
        elif key.startswith("random_effects"):
            for inner, item in (value or {}).items():
                out[f"random_{inner}"] = item
            out[key] = value is not None
        else:
            out[key] = value
    return out


# --- runs ------------------------------------------------------------------------------------


def eta_rows(record: RunRecord, group: str | None, population: str | None) -> list[Row]:
    """One row per η of a run: its ``summary.json`` row, the differences approx − true beside
    their paired SEs (only where the run has such an SE), group and population."""
    from reportgen.pages import serialize

    differences = run_eta_rows(record.id, record.etas, record.eta_errors)
    out = []
    for summary, errors in zip(record.etas, record.eta_errors, strict=True):
        row: Row = {"run": record.id, "group": group, "population": population}
        row |= flat(serialize.eta_row(summary, errors))
        for approx, rows in differences.items():
            paired = (r for r in rows if r.eta == summary.eta and r.se_diff is not None)
            row[f"diff_{approx}"] = next((r.diff for r in paired), None)
        row["run_verdict_linear"] = record.verdict_linear
        out.append(row)
    return out


def finding_rows(owner: str, findings: Iterable[Finding], column: str = "run") -> list[Row]:
    """Findings as a ``summary.json`` lists them, each with its run's (or group's) id."""
    from reportgen.pages import serialize

    return [{column: owner} | serialize.finding_row(f) for f in findings]


def finding_frame(rows: Sequence[Row], column: str = "run") -> Any:
    return frame(rows, (column, *FINDING_COLUMNS[1:]))


def contribution_rows(contributions: Iterable[EtaContributions]) -> Any:
    """The run's ``contributions.csv`` as a DataFrame: its columns, NaN where a cell is empty."""
    from reportgen.pages.serialize import CSV_COLUMNS

    pd = require_pandas()
    parts = []
    for c in contributions:
        n = c.true_contrib.shape[0]
        missing = np.full(n, np.nan)
        values = (np.full(n, c.eta), np.arange(n), c.true_contrib, c.linear, c.quad, c.linquad,
                  c.token_count, c.weight)  # fmt: skip
        columns = [missing if v is None else np.asarray(v) for v in values]
        parts.append(pd.DataFrame(dict(zip(CSV_COLUMNS, columns, strict=True))))
    if not parts:
        return pd.DataFrame({name: [] for name in CSV_COLUMNS})
    return pd.concat(parts, ignore_index=True)


# --- groups (a thin layer over analysis: the group pages' own functions) ---------------------


def group_populations(
    records: Sequence[RunRecord], incidental: Sequence[str] = ()
) -> tuple[Population, ...]:
    """The populations of a group's runs, decided exactly as its page decides them."""
    return populations([r.member for r in records if r.was_read], Incidental(tuple(incidental)))


def pooled_by_population(
    found: Sequence[Population], records: Mapping[str, RunRecord], margin: float
) -> list[tuple[Population, tuple[PooledEta, ...]]]:
    """Each population's runs pooled per η and judged with ``margin``, as the group page does
    (each run once; never across populations)."""
    out = []
    for population in found:
        runs = [
            run_eta_rows(r.id, r.etas, r.eta_errors)
            for run_id in population.run_ids
            if (r := records.get(run_id)) is not None
        ]
        out.append((population, judge_pooled(pool_by_eta(runs), margin)))
    return out


def pooled_rows(pooled: Sequence[tuple[Population, Sequence[PooledEta]]]) -> list[Row]:
    """One row per population and η: the pooled fields of the group's ``populations[].pooled``."""
    return [
        {"population": population.label, "runs": list(population.run_ids)} | flat(row.to_json())
        for population, rows in pooled
        for row in rows
    ]
