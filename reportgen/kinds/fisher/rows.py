"""What templates/kind_fisher.html shows: plain rows built from the analysis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from reportgen.charts import Chart
from reportgen.findings import Finding
from reportgen.kinds.common import shorten
from reportgen.kinds.fisher.analysis import FisherAnalysis, IdentityCheck
from reportgen.kinds.fisher.model import SequenceInfo, Split
from reportgen.kinds.fisher.relations import QUANTITIES, CorrelationRow, SurprisalNote
from reportgen.kinds.fisher.spectrum import CosineContrast, PromptShare, Spectrum
from reportgen.kinds.reading import NotRead
from reportgen.numfmt import format_number
from reportgen.pages.verdict import Verdict

SHORT_TEXT = 160  # characters of a prompt or response shown before "more"


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class Text:
    """A text from the tree (escaped by the template): the start, and all of it when cut."""

    short: str
    full: str
    cut: bool


@dataclass(frozen=True)
class PairRow:
    a: str
    b: str
    same_prompt: bool
    kernel: float
    cosine: float | None
    texts: tuple[tuple[str, Text, Text], ...]  # per side: (id, prompt, response)


@dataclass(frozen=True)
class OutlierRow:
    split: str
    id: str
    index: int | None
    values: str
    prompt: Text | None
    response: Text | None


@dataclass(frozen=True, eq=False)
class FisherView:
    directory: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    counts: Mapping[str, int]
    sections: tuple[Section, ...]
    facts: tuple[tuple[str, str], ...]
    prompt_source: str
    shares: tuple[PromptShare, ...]
    contrast: CosineContrast | None
    identities: tuple[IdentityCheck, ...]
    correlations: tuple[CorrelationRow, ...]
    quantities: tuple[tuple[str, str], ...]
    surprisal: tuple[SurprisalNote, ...]
    pairs: tuple[PairRow, ...]
    outliers: tuple[OutlierRow, ...]
    disagreements: tuple[str, ...]
    charts: Mapping[str, tuple[Chart, ...]]
    heatmap_note: str
    page_data: Markup
    cosine_margin: float  # absolute, on the cosine contrast
    contrast_verdict: str  # the contrast against it, in words
    spectrum_note: str  # the eigenvalues left out of the chart, and why
    magnitude_gap: float  # the materiality floor of a magnitude disagreement
    inputs: tuple[str, ...]
    not_read: tuple[NotRead, ...]


def text(value: str) -> Text:
    short, cut = shorten(value, SHORT_TEXT)
    return Text(short, value, cut)


def facts(analysis: FisherAnalysis) -> tuple[tuple[str, str], ...]:
    s = analysis.spectrum
    prompts = len(set(analysis.prompts)) if all(analysis.prompts) else None
    rows = [
        ("update sequences n", format_number(analysis.n)),
        ("prompts", format_number(prompts)),
        ("effective rank exp(−Σ pₖ log pₖ)", format_number(s.effective_rank)),
        (
            "top eigenvalue / Σλ",
            "—" if s.top_share is None else f"{format_number(100 * s.top_share)} %",
        ),
        ("trace Σ K_aa", format_number(s.trace)),
        ("mean |cosine|, a ≠ b", format_number(analysis.off_diagonal_abs_cosine)),
    ]
    rows += [(f"{split.name} split", _split_summary(split)) for split in analysis.run.splits]
    return tuple(rows)


def _split_summary(split: Split) -> str:
    parts = []
    if split.kernel is not None:
        parts.append("kernel " + " × ".join(str(d) for d in split.kernel.shape))
    if split.influence is not None:
        parts.append(f"influence ({split.influence.size})")
    if split.sequences:
        parts.append(f"{len(split.sequences)} sequences")
    if split.metrics:
        parts.append(f"{len(split.metrics)} metrics")
    return ", ".join(parts) or "no usable files"


def pair_rows(analysis: FisherAnalysis) -> tuple[PairRow, ...]:
    rows = []
    for p in analysis.top_pairs:
        sides = tuple(
            (info.id, text(info.prompt), text(info.response))
            for info in (p.a_info, p.b_info)
            if info is not None
        )
        a = p.a_info.id if p.a_info else f"#{p.a}"
        b = p.b_info.id if p.b_info else f"#{p.b}"
        same = (
            p.a_info is not None
            and p.b_info is not None
            and p.a_info.prompt_key == p.b_info.prompt_key
        )
        rows.append(PairRow(a, b, same, p.kernel, p.cosine, sides))
    return tuple(rows)


def outlier_rows(analysis: FisherAnalysis) -> tuple[OutlierRow, ...]:
    rows = []
    for split in analysis.run.splits:
        for o in split.outliers:
            info: SequenceInfo | None = None
            if o.index is not None and o.index < len(split.sequences):
                info = split.sequences[o.index]
            values = ", ".join(f"{k} {format_number(v)}" for k, v in o.values)
            rows.append(
                OutlierRow(
                    split.name,
                    o.id or (info.id if info else "—"),
                    o.index,
                    values,
                    text(info.prompt) if info else None,
                    text(info.response) if info else None,
                )
            )
    return tuple(rows)


def quantity_legend(analysis: FisherAnalysis) -> tuple[tuple[str, str], ...]:
    used = {r.quantity for r in analysis.correlations}
    return tuple((name, meaning) for name, meaning in QUANTITIES.items() if name in used)


def spectrum_note(s: Spectrum) -> str:
    """Which eigenvalues the chart leaves out: those within the rounding bound n·ε·λ_max."""
    n, floor = s.eigenvalues.size, s.share_floor
    if s.resolved >= n or floor is None:
        return ""
    which = f"k = {s.resolved + 1}–{n} are" if s.resolved + 1 < n else f"k = {n} is"
    return (
        f"{which} below the rounding bound n·ε·λ_max = {format_number(s.tolerance)} (a share of "
        f"{format_number(floor)}) and are not drawn: the stored kernel's rounding can move an "
        "eigenvalue by that much, so their values are noise."
    )
