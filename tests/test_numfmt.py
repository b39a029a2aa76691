"""The one number formatter: notation per column, one minus sign, value ± SE."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.numfmt import (
    MINUS,
    NumberFormat,
    column_format,
    format_eta,
    format_number,
    format_percent,
    format_with_se,
    vega_label_expr,
)

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30)


def parse(text: str) -> float:
    return float(text.replace(MINUS, "-").replace(",", ""))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-0.0013221, "−1.322e−3"),
        (1.7e-05, "1.7e−5"),
        (0.4213, "0.4213"),
        (-0.5, "−0.5"),
        (26230.0, "26,230"),
        (12345.678, "1.235e4"),
        (-3, "−3"),
        (None, "—"),
        (True, "yes"),
        (math.inf, "∞"),
        (-math.inf, "−∞"),
        (math.nan, "NaN"),
        ("text", "text"),
    ],
)
def test_format_number(value: object, text: str) -> None:
    assert format_number(value) == text


@given(finite)
def test_round_trip_within_the_digits(value: float) -> None:
    """Four significant digits: the printed number is within half a unit of the 4th digit."""
    text = format_number(value)
    assert "-" not in text  # one minus sign: U+2212, also in exponents
    if value != 0:
        assert abs(parse(text) - value) <= 5e-4 * abs(value) * (1 + 1e-12)


# every float from 2**53 on is an integer: drawn from there, most would be filtered out
non_integer = st.floats(
    allow_nan=False, allow_infinity=False, min_value=-(2.0**52), max_value=2.0**52
).filter(lambda v: not v.is_integer())


@given(st.lists(non_integer, min_size=1, max_size=20))
def test_a_column_never_mixes_notations(values: list[float]) -> None:
    fmt = column_format(values)
    texts = [fmt(v) for v in values]
    sci = ["e" in t for t in texts if t != "0"]
    assert all(sci) or not any(sci)


def test_column_switches_to_scientific_when_one_value_needs_it() -> None:
    fmt = column_format([0.5, -0.0013221, None])
    assert fmt.scientific is True
    assert fmt(0.5) == "5e−1"
    assert column_format([0.5, 0.25])(0.5) == "0.5"


@pytest.mark.parametrize(
    ("value", "se", "text"),
    [
        (-0.0013221, 4.1e-5, "(−1.322 ± 0.041)e−3"),
        (0.4213, 0.0123, "0.421 ± 0.012"),
        (12.0, 3.456, "12.0 ± 3.5"),
        (0.5, None, "0.5"),
        (0.5, 0.0, "0.5"),
    ],
)
def test_value_with_se(value: float, se: float | None, text: str) -> None:
    assert format_with_se(value, se) == text


@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.floats(min_value=1e-9, max_value=1e6),
)
def test_se_keeps_the_value(value: float, se: float) -> None:
    """Both are rounded to the SE's second significant digit, so neither moves by more than
    half of that digit (plus float rounding of the printed decimal)."""
    text = format_with_se(value, se, NumberFormat(scientific=False))
    shown, _, shown_se = text.partition(" ± ")
    step = 10.0 ** min(math.floor(math.log10(se)) - 1, 0)
    slack = 1e-12 * (abs(value) + se)
    assert abs(parse(shown) - value) <= 0.5 * step + slack
    assert abs(parse(shown_se) - se) <= 0.5 * step + slack


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=0.0, exclude_min=True, allow_infinity=False),
)
def test_scientific_se_keeps_the_value_over_the_whole_float_range(value: float, se: float) -> None:
    """Subnormal and huge values or SEs print, and parse back to within the SE's last digit
    (or a double's last significant digit, when the SE is finer than that)."""
    text = format_with_se(value, se, NumberFormat(scientific=True))
    match = re.fullmatch(r"\((\S+) ± (\S+)\)e(\S+)", text)
    assert match is not None, text
    exponent = int(parse(match[3]))
    step = Decimal(10) ** max(math.floor(math.log10(se)) - 1, exponent - 16)
    for shown, exact in ((match[1], value), (match[2], se)):
        error = abs(Decimal(shown.replace(MINUS, "-")).scaleb(exponent) - Decimal(exact))
        assert error <= step / 2


@given(
    st.floats(min_value=-1e-3, max_value=0.0),
    st.floats(min_value=1e-2, max_value=1e3),
    st.booleans(),
)
def test_a_negative_value_that_rounds_to_zero_shows_no_sign(
    value: float, se: float, scientific: bool
) -> None:
    """``−0.0 ± 2.0`` reads as a signed result; at the shown precision it is zero."""
    text = format_with_se(value, se, NumberFormat(scientific=scientific))
    shown = text.removeprefix("(").partition(" ± ")[0]
    assert not (shown.startswith(MINUS) and parse(shown) == 0.0), text


def test_eta_and_percent() -> None:
    assert format_eta(3.2e-6) == "3.2e−6"
    assert format_eta(0.1) == "0.1"
    assert format_eta(None) == "—"
    assert format_percent(-0.0123) == "−1.23 %"
    assert format_percent(0.5) == "+50 %"


def test_vega_expression_uses_the_same_rules() -> None:
    assert "\u2212" in vega_label_expr() and "datum.label" in vega_label_expr()


def test_a_p_value_that_underflowed_is_not_written_as_zero() -> None:
    from reportgen.numfmt import format_p

    assert format_p(0.0) == "< 1e−300"
    assert format_p(0.9598) == "= 0.9598"
    assert format_p(4.2e-208).startswith("= 4.2e−208")
