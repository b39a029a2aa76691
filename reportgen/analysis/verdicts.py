"""Verdicts with power: does an approximation agree with ΔH_true, disagree, or can we not tell?

Per run and η, with ``ratio = ΔH_approx/ΔH_true``, ``z = (ΔH_approx − ΔH_true)/se_diff`` and
the equivalence margin m (default 0.2):

* **disagrees** when |z| > 1.96: the difference is beyond noise at the 5 % level (two-sided);
* **agrees** when the 90 % interval ``ratio ± 1.645·se_ratio`` lies inside ``[1 − m, 1 + m]``:
  two one-sided tests at 5 % (TOST) show the ratio is within the margin;
* **inconclusive** otherwise: neither a difference nor agreement is shown.

"|z| ≤ 2" is not agreement: a test without power (a wide se_diff) passes it whatever the truth.
``mde = 2.80·se_diff/|ΔH_true|`` is the smallest relative error the run would detect with 80 %
power at the 5 % level (1.96 + 0.84 = 2.80). The ratio's SE is the paired delta method over
sequences (influence ``(a_i − ratio·u_i)/ΔH_true``, a_i the centred approximation column, u_i
ΔH_true's influence), or, without per-sequence records, the unpaired first-order formula
``√(se_approx² + ratio²·se_true²)/|ΔH_true|``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from reportgen.analysis.delta import PairedColumns, centred, influence_se, true_influence
from reportgen.load.models import FloatArray

Verdict = Literal["agrees", "disagrees", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("agrees", "disagrees", "inconclusive")

Z_95 = 1.959963984540054  # two-sided 95 %: Φ⁻¹(0.975)
Z_90 = 1.6448536269514722  # one-sided 95 % (the TOST's 90 % interval): Φ⁻¹(0.95)
Z_80_POWER = 0.8416212335729143  # Φ⁻¹(0.80)
MDE_FACTOR = 2.80  # Z_95 + Z_80_POWER, rounded as the guide states it
DEFAULT_MARGIN = 0.2  # the default of --equivalence-margin (settings.ReadOptions)

PAIRED_RATIO = "delta-method"
UNPAIRED_RATIO = "unpaired √(se_approx² + ratio²·se_true²)/|ΔH_true|"


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def ratio(approx: float | None, true: float | None) -> float | None:
    """approx/true, or ``None`` when either is missing or ΔH_true is zero."""
    if approx is None or true is None or true == 0:
        return None
    return finite(approx / true)


def paired_ratio_se(
    columns: PairedColumns, approx_column: FloatArray, value: float, true: float
) -> float | None:
    """Delta-method SE of approx/true from the same sequences' columns."""
    if true == 0:
        return None
    with_influence = (centred(approx_column) - value * true_influence(columns)) / true
    return influence_se(with_influence)


def unpaired_ratio_se(
    value: float, true: float, se_approx: float | None, se_true: float | None
) -> float | None:
    """First-order SE of approx/true for independent estimates (no covariance known)."""
    if se_approx is None or se_true is None or true == 0:
        return None
    return finite(math.hypot(se_approx, value * se_true) / abs(true))  # no overflow error


def mde(se_diff: float | None, true: float | None) -> float | None:
    """The smallest |approx − true|/|true| detected with 80 % power at the 5 % level."""
    if se_diff is None or true is None or true == 0:
        return None
    return finite(MDE_FACTOR * se_diff / abs(true))


def verdict(
    z: float | None, value: float | None, se_ratio: float | None, margin: float
) -> Verdict | None:
    """The verdict at one η; ``None`` when there is no z (no standard error to judge with)."""
    if z is None:
        return None
    if abs(z) > Z_95:
        return "disagrees"
    if (interval := ratio90(value, se_ratio)) is not None:
        low, high = interval
        if 1.0 - margin <= low and high <= 1.0 + margin:
            return "agrees"
    return "inconclusive"


def ratio90(ratio: float | None, se_ratio: float | None) -> tuple[float, float] | None:
    """The 90 % interval of approximation/true a verdict judges (the two one-sided tests'),
    ``None`` without a ratio or its SE."""
    if ratio is None or se_ratio is None:
        return None
    return ratio - Z_90 * se_ratio, ratio + Z_90 * se_ratio


def run_verdict(verdicts: Sequence[Verdict | None]) -> Verdict | None:
    """``disagrees`` if any η disagrees, ``agrees`` if every η agrees, else ``inconclusive``;
    ``None`` when no η has a verdict."""
    if not any(v is not None for v in verdicts):
        return None
    if "disagrees" in verdicts:
        return "disagrees"
    if all(v == "agrees" for v in verdicts):
        return "agrees"
    return "inconclusive"


def breakdown_eta(rows: Sequence[tuple[float, Verdict | None]]) -> float | None:
    """The smallest η of the grid from which every larger η disagrees (``None`` if the largest
    does not); an η without a verdict does not disagree."""
    found = None
    for eta, v in sorted(rows, key=lambda row: row[0], reverse=True):
        if v != "disagrees":
            break
        found = eta
    return found


@dataclass(frozen=True)
class RatioJudgement:
    """One approximation at one η: its ratio to ΔH_true, the ratio's SE, MDE and verdict."""

    ratio: float | None = None
    se_ratio: float | None = None
    method: str | None = None
    mde: float | None = None
    verdict: Verdict | None = None


def judge(
    approx: float | None,
    true: float | None,
    z: float | None,
    se_diff: float | None,
    se_ratio_paired: float | None,
    se_approx: float | None,
    se_true: float | None,
    margin: float,
) -> RatioJudgement:
    """The ratio with its SE (paired when given, else unpaired), MDE and verdict at one η."""
    value = ratio(approx, true)
    se, method = None, None
    if value is not None and true is not None:
        if se_ratio_paired is not None:
            se, method = se_ratio_paired, PAIRED_RATIO
        else:
            se = unpaired_ratio_se(value, true, se_approx, se_true)
            method = UNPAIRED_RATIO if se is not None else None
    return RatioJudgement(value, se, method, mde(se_diff, true), verdict(z, value, se, margin))
