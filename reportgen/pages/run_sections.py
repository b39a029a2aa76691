"""The sections of a run page beyond its ΔH table: curvature, outliers, tails, the run's files,
the SE note and the table of contents (view dataclasses, built from a ``RunAnalysis``)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from markupsafe import Markup

from reportgen.analysis import RunAnalysis
from reportgen.analysis.uncertainty import DELTA, SHARDS, SHARDS_SWEEP, UNPAIRED, RunUncertainty
from reportgen.load.models import Run
from reportgen.pages import paths
from reportgen.pages.cells import eta_rows_html, number_cells, text_cells
from reportgen.pages.render import render_markdown

OUTLIERS_PER_ETA = 15
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
OUTLIER_FEATURES = (
    "features.length_log",
    "features.sum_w",
    "features.var_logp",
    "var_logp",
    "mean_logp",
)


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class Cite:
    label: str
    run_id: str
    eta_label: str
    source_hash: str
    version: str


@dataclass(frozen=True)
class Link:
    name: str
    href: str
    size: int


@dataclass(frozen=True)
class Note:
    name: str
    html: Markup


@dataclass(frozen=True)
class RatioRow:
    eta: float
    value: float
    beyond: bool


@dataclass(frozen=True)
class CurvatureView:
    gdotv: float | None
    vhvv: float | None
    eta_star: float | None
    beyond: tuple[float, ...]
    ratio_pred: tuple[RatioRow, ...]


@dataclass(frozen=True)
class OutlierRow:
    eta: float
    index: int
    length: float | None
    true_contrib: float
    linear: float
    linquad: float | None
    error: float
    features: tuple[float | None, ...]


@dataclass(frozen=True)
class TailRow:
    eta: float
    method: str
    quantile: float
    kept: int
    threshold: float | None
    true: float | None
    linear: float | None
    linquad: float | None
    ratio: float | None


def curvature_view(run: Run, etas: tuple[float, ...]) -> CurvatureView | None:
    curvature = (
        run.sweep.curvature if run.sweep else run.snis.approx.quadratic if run.snis else None
    )
    if curvature is None:
        return None
    eta_star = curvature.eta_star
    if eta_star is None and run.snis is not None:
        eta_star = run.snis.approx.eta_star

    def beyond(eta: float) -> bool:
        return eta_star is not None and eta > eta_star

    return CurvatureView(
        gdotv=curvature.gdotv,
        vhvv=curvature.vhvv,
        eta_star=eta_star,
        beyond=tuple(e for e in etas if beyond(e)),
        ratio_pred=tuple(RatioRow(e, v, beyond(e)) for e, v in curvature.ratio_pred),
    )


_SE_METHODS = {
    DELTA: "delta method over sequences (paired: the same sequences drive truth and approximation)",
    SHARDS: "num_shards · se_shard · η from approx.variance (no per-sequence records)",
    SHARDS_SWEEP: "num_shards · se_gdotv · η from curvature.variance, read like se_shard as "
    "the SE of the mean shard (not verifiable without per-sequence records)",
    UNPAIRED: "√(se_linear² + se_true²), unpaired (no per-sequence records, so the covariance "
    "of truth and approximation is unknown)",
}


def se_note(uncertainty: RunUncertainty, run: Run) -> str:
    """One sentence per SE method the table uses; which quantities each one produced."""
    used: dict[str, set[str]] = {}
    for row in uncertainty.etas:
        for name, method in row.se_method:
            used.setdefault(method, set()).add(name.removeprefix("se_"))
    if not used:
        return "none available for this run."
    norm = "T_i = 1 per sequence" if run.normalization.true_mode != "per_token" else "per token"
    parts = [
        f"{', '.join(sorted(names))}: {_SE_METHODS.get(method, method)}"
        for method, names in sorted(used.items())
    ]
    boot = (
        f" 95 % intervals in summary.json from {uncertainty.bootstrap} paired bootstrap resamples."
        if uncertainty.bootstrap
        else ""
    )
    return f"{'; '.join(parts)} ({norm}).{boot}"


_SE_LINEAR_LABELS = {DELTA: "delta method", SHARDS: SHARDS, SHARDS_SWEEP: SHARDS_SWEEP}


def se_linear_label(uncertainty: RunUncertainty) -> str:
    """How the table's SE of ΔH_linear was computed (never "paired": it is one quantity's)."""
    methods = sorted({m for u in uncertainty.etas if (m := u.method("se_linear")) is not None})
    return " / ".join(_SE_LINEAR_LABELS.get(m, m) for m in methods) or "none"


def outlier_rows(analysis: RunAnalysis) -> tuple[tuple[OutlierRow, ...], tuple[str, ...]]:
    """The sequences with the largest |true − linear| at each η (vectorised selection)."""
    run = analysis.run
    per_sequence = run.snis.approx.per_sequence if run.snis else None
    if per_sequence is None:
        return (), ()
    columns = dict(per_sequence.columns)
    # "features.var_logp" and "var_logp" can both exist: one column per displayed name
    names = tuple(
        n
        for i, n in enumerate(OUTLIER_FEATURES)
        if n in columns
        and not any(
            m in columns and m.removeprefix("features.") == n.removeprefix("features.")
            for m in OUTLIER_FEATURES[:i]
        )
    )
    rows: list[OutlierRow] = []
    for c in analysis.contributions:
        if c.linear is None:
            continue
        error = c.true_contrib - c.linear
        magnitude = np.where(np.isfinite(error), np.abs(error), -np.inf)
        k = min(OUTLIERS_PER_ETA, magnitude.shape[0])
        top = np.argsort(-magnitude, kind="stable")[:k]
        linquad = c.linquad
        for i in top.tolist():
            rows.append(
                OutlierRow(
                    eta=c.eta,
                    index=i,
                    length=_opt(per_sequence.length, i),
                    true_contrib=float(c.true_contrib[i]),
                    linear=float(c.linear[i]),
                    linquad=_opt(linquad, i),
                    error=float(error[i]),
                    features=tuple(_opt(columns[n], i) for n in names),
                )
            )
    return tuple(rows), tuple(n.removeprefix("features.") for n in names)


def _opt(values: np.ndarray | None, i: int) -> float | None:
    if values is None or i >= values.shape[0]:
        return None
    value = float(values[i])
    return value if np.isfinite(value) else None


def tail_rows(analysis: RunAnalysis) -> tuple[TailRow, ...]:
    rows = []
    for tail in analysis.tails:
        for method in ("truncated", "clipped"):
            for r in getattr(tail, method):
                rows.append(
                    TailRow(
                        tail.eta,
                        "truncate" if method == "truncated" else "clip",
                        r.quantile,
                        r.kept,
                        r.threshold,
                        r.true_total,
                        r.linear_total,
                        r.linquad_total,
                        r.ratio,
                    )
                )
    return tuple(rows)


def outlier_rows_html(rows: Sequence[OutlierRow], features: int) -> Markup:
    """The outlier table's rows: η, then index, length, contributions, error (one notation per
    column), then each feature (notation per value)."""
    numbers = [
        number_cells([getattr(r, name) for r in rows], None)
        for name in ("length", "true_contrib", "linear", "linquad", "error")
    ]
    extra = [number_cells([r.features[j] for r in rows]) for j in range(features)]
    index = text_cells(r.index for r in rows)
    return eta_rows_html([r.eta for r in rows], index, *numbers, *extra)


def tail_rows_html(rows: Sequence[TailRow]) -> Markup:
    """The tail table's rows: η, method, kept quantile, then the numbers (one notation each)."""
    numbers = [
        number_cells([getattr(r, name) for r in rows], None)
        for name in ("kept", "threshold", "true", "linear", "linquad", "ratio")
    ]
    texts = [text_cells(r.method for r in rows), text_cells(r.quantile for r in rows)]
    return eta_rows_html([r.eta for r in rows], *texts, *numbers)


def sections_for(view_parts: Mapping[str, bool]) -> tuple[Section, ...]:
    titles = (
        ("findings", "Findings"),
        ("facts", "Key facts"),
        ("eta-table", "ΔH vs η"),
        ("per-sequence", "Per-sequence"),
        ("snis", "SNIS weights"),
        ("curvature", "Curvature"),
        ("clip", "Clip sensitivity"),
        ("fd", "Finite difference"),
        ("outliers", "Outliers"),
        ("tails", "Tails"),
        ("cv", "Control variates"),
        ("fields", "Fields"),
        ("unrecognised", "Fields not read"),
        ("artifacts", "Artifacts"),
        ("notes", "Notes"),
        ("config", "Configuration"),
    )
    return tuple(Section(i, t) for i, t in titles if view_parts.get(i, True))


@dataclass(frozen=True)
class SkippedFile:
    name: str
    reason: str


def run_files(
    run: Run, inline: bool
) -> tuple[list[Note], list[Link], list[Link], list[tuple[str, bytes]]]:
    """Notes rendered, images and artifacts placed next to the page, from what loading read."""
    ref = run.ref
    notes = [
        Note(PurePosixPath(f.path).name, render_markdown(f.content.decode("utf-8")))
        for f in run.inputs.notes
    ]
    copies: list[tuple[str, bytes]] = []
    images: list[Link] = []
    artifacts: list[Link] = []
    base = PurePosixPath(ref.directory) if ref.directory != "." else PurePosixPath()
    for file, is_image in (
        *((f, True) for f in run.inputs.images),
        *((f, False) for f in run.inputs.artifacts),
    ):
        rel, content = file.path, file.content
        inner = PurePosixPath(rel).relative_to(base) if base.parts else PurePosixPath(rel)
        suffix = PurePosixPath(rel).suffix.lower()
        if inline:
            kind = IMAGE_TYPES.get(suffix, "text/plain" if suffix == ".csv" else "application/json")
            href = f"data:{kind};base64,{base64.b64encode(content).decode()}"
        else:
            href = "files/" + "/".join(paths.slug_part(p) for p in inner.parts)
            copies.append((f"{paths.run_dir(ref.id)}/{href}", content))
        link = Link(inner.as_posix(), href, len(content))
        (images if is_image else artifacts).append(link)
    return notes, images, artifacts, copies
