"""The sections of a run page beyond its ΔH table: curvature, outliers, tails, the run's files,
the SE note and the table of contents (view dataclasses, built from a ``RunAnalysis``)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from markupsafe import Markup, escape

from reportgen.analysis import RunAnalysis
from reportgen.analysis.diagnostics.quality_evidence import EtaStar, eta_star, star_text
from reportgen.analysis.group_stats import resolved
from reportgen.analysis.uncertainty import (
    DELTA,
    SHARDS,
    SHARDS_SWEEP,
    UNPAIRED,
    EtaUncertainty,
    RunUncertainty,
)
from reportgen.analysis.verdicts import Z_95
from reportgen.load.models import Run
from reportgen.numfmt import format_with_se
from reportgen.pages import paths
from reportgen.pages.cells import eta_rows_html, number_cells, text_cells
from reportgen.pages.judged import NOT_SHOWN
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
    name: str  # the path inside the run's directory
    href: str
    size: int

    @property
    def file(self) -> str:
        return PurePosixPath(self.name).name

    @property
    def folder(self) -> str | None:
        """The folder inside the run's directory that holds the file (``None``: the top)."""
        parent = PurePosixPath(self.name).parent.as_posix()
        return None if parent == "." else parent


@dataclass(frozen=True)
class Note:
    name: str
    html: Markup


@dataclass(frozen=True)
class RatioRow:
    eta: float
    value: float
    beyond: bool  # beyond η* + 1.96·SE(η*)
    above: bool = False  # above η*, by no more than its noise resolves (or η* has no SE)


@dataclass(frozen=True)
class CurvatureView:
    """η* ± its SE (``star``), and which η lie beyond it by more than 1.96·SE (``beyond``)
    or above it unresolved (``above``), as the `eta-beyond-curvature` check judges them."""

    gdotv: float | None
    vhvv: float | None
    star: EtaStar | None
    beyond: tuple[float, ...]
    ratio_pred: tuple[RatioRow, ...]
    above: tuple[float, ...] = ()

    @property
    def eta_star(self) -> float | None:
        return self.star.value if self.star is not None else None

    @property
    def star_text(self) -> str | None:
        return star_text(self.star) if self.star is not None else None


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
    """One row of the tail table: ``why`` its ratios are not shown (a key of ``NOT_SHOWN``), and
    ``se`` of linear/true where the row leaves every sequence as it is (q = 1: the ΔH table's
    ratio); any other ratio shown is a point estimate with no SE."""

    eta: float
    method: str
    quantile: float
    kept: int
    threshold: float | None
    true: float | None
    linear: float | None
    linquad: float | None
    ratio: float | None
    linquad_ratio: float | None = None
    why: str | None = None
    se: float | None = None

    @property
    def shown_ratio(self) -> float | None:
        return self.ratio if self.why is None else None

    @property
    def shown_linquad_ratio(self) -> float | None:
        return self.linquad_ratio if self.why is None else None


def curvature_view(run: Run, etas: tuple[float, ...]) -> CurvatureView | None:
    curvature = (
        run.sweep.curvature if run.sweep else run.snis.approx.quadratic if run.snis else None
    )
    if curvature is None:
        return None
    star = eta_star(curvature, run.snis.approx.eta_star if run.snis is not None else None)
    bound = star.bound(Z_95) if star is not None else None

    def beyond(eta: float) -> bool:
        return bound is not None and eta > bound

    def above(eta: float) -> bool:
        return star is not None and eta > star.value and not beyond(eta)

    return CurvatureView(
        gdotv=curvature.gdotv,
        vhvv=curvature.vhvv,
        star=star,
        beyond=tuple(e for e in etas if beyond(e)),
        ratio_pred=tuple(RatioRow(e, v, beyond(e), above(e)) for e, v in curvature.ratio_pred),
        above=tuple(e for e in etas if above(e)),
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
    """The sequences with the largest |true − linear| at each η (vectorised selection), true
    being each sequence's own change (the centred contributions) where the run has them, as the
    per-sequence charts show it; else the guide's true_contrib."""
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
        true = c.centred if c.centred is not None else c.true_contrib
        error = true - c.linear
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
                    true_contrib=float(true[i]),
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
    """Every η, method and kept quantile, with why its ratios are not shown (``tail_why``)."""
    rows = []
    for tail in analysis.tails:
        true, error = truth_at(analysis, tail.eta)
        se_true = error.se_true if error is not None else None
        for method, items in (("truncate", tail.truncated), ("clip", tail.clipped)):
            for r in items:
                whole = r.kept == tail.n  # nothing dropped or clipped
                rows.append(
                    TailRow(
                        tail.eta,
                        method,
                        r.quantile,
                        r.kept,
                        r.threshold,
                        r.true_total,
                        r.linear_total,
                        r.linquad_total,
                        r.ratio,
                        r.linquad_ratio,
                        tail_why(method, whole, true, se_true, tail.centred),
                        error.se_ratio_linear if whole and error is not None else None,
                    )
                )
    return tuple(rows)


def truth_at(analysis: RunAnalysis, eta: float) -> tuple[float | None, EtaUncertainty | None]:
    """ΔH_true and its uncertainty at ``eta`` (``None`` where the run has none)."""
    true = next((s.delta_h_true for s in analysis.summaries if s.eta == eta), None)
    return true, analysis.uncertainty.at(eta)


def tail_why(
    method: str, whole: bool, true: float | None, se_true: float | None, centred: bool = False
) -> str | None:
    """Why a tail ratio is not shown: ΔH_true at its η is not resolved from zero, or has no SE;
    or it truncates (``whole``: a row that drops nothing) a run without per-sequence base
    entropies (``centred`` false), so its Σ true is a subset's sum of the guide's true_contrib,
    whose base-entropy shares make it no change to compare Σ linear with."""
    found = resolved(true, se_true)
    if found is None:
        return "no se_true"
    if not found:
        return "not resolved"
    comparable = centred or whole or method != "truncate"
    return None if comparable else "Σ true not comparable"


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
    """The tail table's rows: η, method, kept quantile, then the numbers (one notation each),
    the ratio last: "—" and why where it is not shown."""
    numbers = [
        number_cells([getattr(r, name) for r in rows], None)
        for name in ("kept", "threshold", "true", "linear", "linquad", "shown_ratio")
    ]
    numbers[-1] = [_ratio_cell(r, cell) for cell, r in zip(numbers[-1], rows, strict=True)]
    texts = [text_cells(r.method for r in rows), text_cells(r.quantile for r in rows)]
    return eta_rows_html([r.eta for r in rows], *texts, *numbers)


def _ratio_cell(r: TailRow, point: Markup) -> Markup:
    """The ratio ± SE where it has one, "—" and why where it is not shown, else ``point``."""
    if r.ratio is None:
        return point
    if r.why is not None:
        return _not_shown(r.why)
    return escape(format_with_se(r.ratio, r.se)) if r.se is not None else point


def _not_shown(why: str) -> Markup:
    """ "—" and the short reason, the long one in its title (as templates/_judged.html)."""
    title = escape(NOT_SHOWN[why])
    return Markup(f'— <span class="muted" title="{title}">({escape(why)})</span>')


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
