"""The one number formatter: tables, findings, verdicts, tooltips and chart axes all use it.

Rules: ``digits`` significant digits; scientific notation when a magnitude is outside
[1e-2, 1e4), decided once per column (``column_format``) so a column never mixes notations;
one minus sign (U+2212), also in exponents; a value with a standard error is shown as
``value ± se`` with the SE to two significant digits and the value to the same decimal place.
Chart axes write the same minus sign (``vega_label_expr``); chart tooltips print with the same
rules through Vega expressions (``vega_number_expr``, ``vega_eta_expr``, ``vega_z_expr``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MINUS = "\u2212"
MISSING = "—"
DIGITS = 4
SE_DIGITS = 2
FIXED_MIN = 1e-2  # below this magnitude: scientific
FIXED_MAX = 1e4  # at or above: scientific


@dataclass(frozen=True)
class NumberFormat:
    """How one column prints: significant digits, and scientific or not (None: per value)."""

    digits: int = DIGITS
    scientific: bool | None = None
    missing: str = MISSING

    def __call__(self, value: object) -> str:
        return format_number(value, self)


DEFAULT = NumberFormat()


def needs_scientific(value: float) -> bool:
    magnitude = abs(value)
    return magnitude != 0 and math.isfinite(magnitude) and not FIXED_MIN <= magnitude < FIXED_MAX


def column_format(values: Iterable[object], digits: int = DIGITS) -> NumberFormat:
    """One notation for a whole column: scientific when any finite non-integer value needs it."""
    numbers = [float(v) for v in values if isinstance(v, float)]
    scientific = any(needs_scientific(v) for v in numbers if not v.is_integer())
    return NumberFormat(digits, scientific)


def minus(text: str) -> str:
    """ASCII hyphen-minus (sign and exponent) replaced by U+2212."""
    return text.replace("-", MINUS)


def format_number(value: object, fmt: NumberFormat = DEFAULT) -> str:
    """A value for people; text passes through unchanged, booleans read yes/no."""
    if value is None:
        return fmt.missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return minus(f"{value:,}")
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else f"{MINUS}∞"
    whole = value.is_integer() and abs(value) < FIXED_MAX * 1e11
    if whole and (fmt.scientific is not True or value == 0):
        return minus(f"{int(value):,}")
    scientific = needs_scientific(value) if fmt.scientific is None else fmt.scientific
    if scientific and value != 0:
        return _scientific(value, fmt.digits)
    return minus(_fixed(value, fmt.digits))


def format_column(values: Iterable[object], fmt: NumberFormat = DEFAULT) -> list[str]:
    """``format_number(value, fmt)`` of every value, in one pass over a table's column."""
    digits, scientific = fmt.digits, fmt.scientific
    out: list[str] = []
    append = out.append
    for value in values:
        # a finite float that is not whole: most of a table; anything else takes the long way
        if type(value) is float and value - value == 0.0 and not value.is_integer():
            if scientific if scientific is not None else needs_scientific(value):
                append(_scientific(value, digits))
            else:
                append(_fixed(value, digits).replace("-", MINUS))
        else:
            append(format_number(value, fmt))
    return out


def _fixed(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    decimals = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scientific(value: float, digits: int) -> str:
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return minus(f"{mantissa}e{int(exponent)}")


FLOAT_DECIMALS = 16  # a double's 17 significant digits: any finer place is noise


def scaled_with_se(value: float, se: float) -> tuple[str, str, int]:
    """``value`` and ``se > 0`` as decimal mantissas times ``10**exponent``, where the larger of
    the two sets the exponent and both are rounded to the SE's second significant digit."""
    place = math.floor(math.log10(se)) - (SE_DIGITS - 1)  # decimal place of the SE's last digit
    exponent = math.floor(math.log10(max(abs(value), se)))
    decimals = min(max(exponent - place, 0), FLOAT_DECIMALS)
    return scaled(value, exponent, decimals), scaled(se, exponent, decimals), exponent


def scaled(value: float, exponent: int, decimals: int) -> str:
    """``value / 10**exponent`` with ``decimals`` places; Decimal, because 10.0**exponent
    underflows to zero near the subnormal range."""
    return _no_negative_zero(f"{Decimal(value).scaleb(-exponent):.{decimals}f}")


def _no_negative_zero(text: str) -> str:
    """A value that rounds to zero at the shown precision is shown as zero, without a sign."""
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def format_with_se(value: float | None, se: float | None, fmt: NumberFormat = DEFAULT) -> str:
    """``value ± se``: SE to two significant digits, the value rounded to the same place."""
    if value is None or se is None or not (math.isfinite(value) and math.isfinite(se)) or se <= 0:
        return format_number(value, fmt)
    scientific = needs_scientific(value) if fmt.scientific is None else fmt.scientific
    if scientific:
        shown, shown_se, exponent = scaled_with_se(value, se)
        return minus(f"({shown} ± {shown_se})e{exponent}")
    place = math.floor(math.log10(se)) - (SE_DIGITS - 1)
    decimals = max(-place, 0)
    return minus(f"{_no_negative_zero(f'{value:.{decimals}f}')} ± {se:.{decimals}f}")


def format_eta(value: float | None) -> str:
    """η as the experiments write it, with a real minus: 3.2e-06 → 3.2e−6."""
    if value is None or not math.isfinite(value):
        return MISSING
    mantissa, _, exponent = f"{value:.4g}".partition("e")
    return minus(f"{mantissa}e{int(exponent)}" if exponent else mantissa)


def format_z(value: float | None) -> str:
    """A z score to two decimals with its sign: +1.23, −0.50."""
    if value is None or not math.isfinite(value):
        return MISSING
    return minus(f"{value:+.2f}")


def format_p(value: float | None) -> str:
    """What follows "p" in a sentence: "= 0.0123" (``format_number``), or "< 1e−300" for one that
    underflowed to 0 (no tail probability is 0)."""
    return "< 1e−300" if value == 0.0 else f"= {format_number(value)}"


def format_percent(value: float | None) -> str:
    """A fraction as a signed percentage with three significant digits: +12.3 %, −0.5 %."""
    if value is None or not math.isfinite(value):
        return MISSING
    return minus(f"{value * 100:+.3g} %")


def format_percent_se(value: float | None) -> str:
    """The standard error of a fraction as a percentage, unsigned, as ``format_percent``: 4.56 %."""
    if value is None or not math.isfinite(value):
        return MISSING
    return minus(f"{value * 100:.3g} %")


# --- the same rules in chart axes ---------------------------------------------------------


def vega_label_expr() -> str:
    """``labelExpr`` for every axis: Vega's own tick labels (one precision per axis, from the
    tick step, so an axis never mixes notations) with this module's one minus sign."""
    return "replace(datum.label, regexp('-', 'g'), '\u2212')"


# The same rules as Vega expressions, for tooltips: computed in the browser from the plotted
# numbers, so the page carries no second, formatted copy of its data. d3-format's ``~`` trims
# trailing zeros like ``_fixed`` and ``_scientific``; "r" rounds to significant digits.


def _vega_minus(expr: str) -> str:
    # d3 writes U+2212 for a negative sign but a hyphen in exponents, and "e+5": one sign, ours
    return f"replace(replace({expr}, regexp('[-\u2212]', 'g'), '{MINUS}'), '+', '')"


def _vega_special(ref: str, finite: str) -> str:
    """``finite`` for finite numbers; null (NaN and missing values in page JSON) prints ``—``."""
    return (
        f"!isValid({ref}) ? '{MISSING}' : !isFinite({ref}) ? ({ref} > 0 ? '∞' : '{MINUS}∞') : "
        f"{finite}"
    )


def vega_number_expr(ref: str, digits: int = DIGITS) -> str:
    """``format_number`` (default format: notation per value) of the Vega value ``ref``."""
    whole = f"{ref} == round({ref}) && abs({ref}) < {FIXED_MAX * 1e11:.0e}"
    scientific = f"abs({ref}) < {FIXED_MIN:g} || abs({ref}) >= {FIXED_MAX:.0e}"
    text = (
        f"{whole} ? format({ref}, ',d') : {scientific} ? format({ref}, '.{digits - 1}~e') "
        f": format({ref}, '.{digits}~r')"
    )
    return _vega_special(ref, _vega_minus(f"({text})"))


def vega_eta_expr(ref: str) -> str:
    """``format_eta`` (Python's ``.4g``: scientific below 1e-4 and from 1e4) of ``ref``."""
    text = (
        f"abs({ref}) != 0 && (abs({ref}) < 1e-4 || abs({ref}) >= 1e4) "
        f"? format({ref}, '.3~e') : format({ref}, '.4~r')"
    )
    return _vega_special(ref, _vega_minus(f"({text})"))


def vega_z_expr(ref: str) -> str:
    """``format_z`` (two decimals with their sign) of ``ref``."""
    return _vega_special(ref, f"replace(format({ref}, '+.2f'), '-', '{MINUS}')")
