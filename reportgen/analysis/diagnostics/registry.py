"""The check registry: options, the context a check sees, registration and evaluation."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from reportgen.analysis.contributions import (
    EtaContributions,
    EtaSummary,
)
from reportgen.analysis.uncertainty import RunUncertainty
from reportgen.analysis.verdicts import Z_95
from reportgen.findings import SEVERITIES, CheckInfo, Finding, Severity
from reportgen.load.models import Curvature, Run, SnisData, TrueEntry
from reportgen.numfmt import NumberFormat, format_eta, format_number

# --- options, context and registry -----------------------------------------------------------


@dataclass(frozen=True)
class CheckOptions:
    """Tolerances and thresholds of the checks."""

    # identities the guide states exactly fail when |a − b| > rtol·max(|a|, |b|) + atol: float
    # rounding only (the checks' explanations quote these defaults, 1e−6 and 1e−12)
    identity_rtol: float = 1e-6
    identity_atol: float = 1e-12  # floor, so values that are zero up to rounding compare equal
    aggregate_rtol: float = 0.01  # separately computed aggregates (linquad, quadratic g·v)
    min_ess_fraction: float = 0.5
    max_linear_error: float = 0.5
    slope_tolerance: float = 0.15
    min_slope_points: int = 2
    ratio_pred_floor: float = 1e-20
    significant_z: float = Z_95  # |z| beyond which a difference is not noise (two-sided 5 %)
    # se_shard against std(shard sums)/√K: the real runs store gdotv after float32 arithmetic,
    # so the identity holds to ~5e-8 there (float32 unit roundoff 6e-8), not to 1e-12
    shard_identity_rtol: float = 1e-6


DEFAULT_OPTIONS = CheckOptions()


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at."""

    run: Run
    contributions: tuple[EtaContributions, ...]
    summaries: tuple[EtaSummary, ...]
    options: CheckOptions
    uncertainty: RunUncertainty | None = None

    @property
    def snis(self) -> SnisData | None:
        return self.run.snis

    @property
    def entries(self) -> tuple[TrueEntry, ...]:
        """The SNIS ground-truth entries (none for other schemas)."""
        return self.run.snis.entries if self.run.snis is not None else ()

    @property
    def curvature(self) -> Curvature | None:
        if self.run.sweep is not None:
            return self.run.sweep.curvature
        return self.run.snis.approx.quadratic if self.run.snis is not None else None

    def identity(self, a: float | None, b: float | None) -> tuple[float, float] | None:
        """``(a, b)`` if an identity the guide states exactly fails: |a − b| >
        ``identity_rtol``·max(|a|, |b|) + ``identity_atol``."""
        return _mismatch(a, b, self.options.identity_rtol, self.options.identity_atol)

    def aggregate(self, a: float | None, b: float | None) -> tuple[float, float] | None:
        """``(a, b)`` if two separately computed aggregates differ beyond ``aggregate_rtol``."""
        return _mismatch(a, b, self.options.aggregate_rtol)


@dataclass(frozen=True)
class Hit:
    """What a check found; the registry adds the check's id, severity and section."""

    message: str
    eta: float | None = None
    etas: tuple[float, ...] = ()  # a hit about several η at once (one finding per run)


Scope = Literal["run", "failure", "incomplete", "internal", "group"]


@dataclass(frozen=True)
class RegisteredCheck:
    info: CheckInfo
    scope: Scope
    function: Callable[[Any], Iterable[Hit]]


REGISTRY: list[RegisteredCheck] = []
CheckFunction = TypeVar("CheckFunction", bound=Callable[[Any], Iterable[Hit]])


def check(
    id: str, severity: Severity, title: str, section: str, scope: Scope = "run"
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check; its docstring (markdown) is the explanation shown on the guide page."""

    def register(function: CheckFunction) -> CheckFunction:
        if any(c.info.id == id for c in REGISTRY):
            raise ValueError(f"duplicate check id {id!r}")
        explanation = inspect.cleandoc(function.__doc__ or "")
        REGISTRY.append(
            RegisteredCheck(CheckInfo(id, severity, title, explanation, section), scope, function)
        )
        return function

    return register


def _finite_eta(eta: float | None) -> float | None:
    return eta if eta is not None and math.isfinite(eta) else None


def _finding(info: CheckInfo, hit: Hit) -> Finding:
    etas = tuple(e for e in hit.etas if math.isfinite(e))
    eta = _finite_eta(hit.eta)
    if etas:
        eta = etas[0] if len(etas) == 1 else None
    elif eta is not None:
        etas = (eta,)
    return Finding(info.id, info.severity, hit.message, eta, info.section, etas)


def _merged(info: CheckInfo, hits: list[Hit]) -> Finding:
    """One finding for a check's per-η hits: the η list and each η's message, in η order."""
    ordered = sorted(hits, key=lambda h: h.eta or 0.0)
    if len(ordered) == 1:
        return _finding(info, ordered[0])
    etas = tuple(h.eta for h in ordered if h.eta is not None)
    return _finding(info, Hit("; ".join(h.message for h in ordered), etas=etas))


def evaluate(registered: RegisteredCheck, subject: object) -> list[Finding]:
    """Run one check; a check that raises becomes a ``check-failed`` finding, never an exception.

    Hits about one η each are merged into one finding per run and check, with the list of η;
    run-level hits (and hits that already carry an η list) stay as they are, without repeats.
    """
    try:
        with np.errstate(all="ignore"):
            hits = list(registered.function(subject))
    except Exception as exc:  # a buggy check must not stop the build
        return evaluate(by_id("check-failed"), _crash_hit(registered.info.id, exc))
    per_eta: dict[float, Hit] = {}
    seen: set[tuple[float, ...]] = set()
    findings = []
    for hit in hits:
        eta = _finite_eta(hit.eta)
        if eta is not None and not hit.etas:
            per_eta.setdefault(eta, hit)  # at most one hit per η
            continue
        finding = _finding(registered.info, hit)
        if finding.etas not in seen:  # at most one run-level finding per check
            seen.add(finding.etas)
            findings.append(finding)
    if per_eta:
        findings.append(_merged(registered.info, list(per_eta.values())))
    return findings


def by_id(check_id: str) -> RegisteredCheck:
    return next(c for c in REGISTRY if c.info.id == check_id)


def sort_key(finding: Finding) -> tuple[int, int, float]:
    position = next((i for i, c in enumerate(REGISTRY) if c.info.id == finding.id), -1)
    eta = min(finding.etas) if finding.etas else -math.inf
    return SEVERITIES.index(finding.severity), position, eta


# --- formatting ------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 5) -> str:
    """A number in findings, by the site's one formatter (``reportgen.numfmt``): ``−1.3221e−3``."""
    return format_number(value, NumberFormat(digits, None, "none"))


def fmt_eta(eta: float) -> str:
    """η (or a threshold) the way people write it: ``3.2e−6``, ``1.28e−5``, ``8e−7``."""
    return format_eta(eta)


def rel(a: float, b: float) -> float:
    """|a − b| relative to the larger magnitude."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _mismatch(
    a: float | None, b: float | None, rtol: float, atol: float = 0.0
) -> tuple[float, float] | None:
    """``(a, b)`` when both are finite and differ beyond tolerance, else ``None``.

    Non-finite values are skipped here because ``non-finite`` reports them.
    """
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return (a, b) if abs(a - b) > rtol * max(abs(a), abs(b)) + atol else None


def at(eta: float) -> str:
    return f"at η = {fmt_eta(eta)}"


def _crash_hit(check_id: str, exc: Exception) -> Hit:
    return Hit(f"check {check_id} crashed: {type(exc).__name__}: {exc}"[:300])
