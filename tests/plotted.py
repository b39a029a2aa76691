"""The values an exported SVG figure plots, read from the accessible labels Vega writes on every
mark item (``aria-label="η: 8e-7; ΔH (per token): −0.00057; series: linear"``), and their
comparison with the figure's CSV twin."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass

import numpy as np

_ITEM = re.compile(
    r'aria-roledescription="([^"]*)"[^>]*?aria-label="([^"]*)"'
    r'|aria-label="([^"]*)"[^>]*?aria-roledescription="([^"]*)"'
)
_NUMBER = re.compile(r"^([−-]?)(\d+)(?:\.(\d+))?(?:e([−-]?\d+))?(%?)$")
_GUIDES = ("axis", "legend", "title")  # chrome, not data
REFERENCE = "reference at "  # a constant drawn as a guide (charts.encodings)
DERIVED = "derived: "  # an aggregate the chart computes, named as its caption names it


@dataclass(frozen=True)
class Plotted:
    """One value of one mark item: its label's field name, the text, the number and the
    half-unit of its last printed digit."""

    role: str
    field: str
    text: str
    value: float
    tolerance: float
    on_magnitude_axis: bool  # the item's y is titled |…|: its values may be magnitudes


def parse_number(text: str) -> tuple[float, float] | None:
    """A label's number and half a unit of its last printed digit (``None``: not a number)."""
    found = _NUMBER.match(text.strip())
    if found is None:
        return None
    sign, whole, fraction, exponent, percent = found.groups()
    fraction = fraction or ""
    power = int(exponent.replace("−", "-")) if exponent else 0
    value = float(f"{whole}.{fraction or 0}e{power}") * (-1.0 if sign else 1.0)
    tolerance = 0.5 * 10.0 ** (power - len(fraction))
    if percent:
        value, tolerance = value / 100, tolerance / 100
    return value, tolerance * (1 + 1e-9)


def labelled_items(svg: str) -> list[tuple[str, str]]:
    """(role, label) of every mark item, guides (axes, legends, titles) left out."""
    items = []
    for role_a, label_a, label_b, role_b in _ITEM.findall(svg):
        role, label = role_a or role_b, html.unescape(label_a or label_b)
        if not any(guide in role for guide in _GUIDES):
            items.append((role, label))
    return items


def plotted_values(items: list[tuple[str, str]]) -> list[Plotted]:
    """Every numeric value of the data items (references and named aggregates left out)."""
    values = []
    for role, label in items:
        if label.startswith((REFERENCE, DERIVED)):
            continue
        parts = [part.rpartition(": ") for part in label.split("; ")]
        magnitude = any(field.startswith("|") for field, _, _ in parts)
        for field, _, text in parts:
            parsed = parse_number(text) if field else None
            if parsed is not None:
                values.append(Plotted(role, field, text, *parsed, magnitude))
    return values


def csv_numbers(text: str) -> np.ndarray:
    """Every numeric cell of a CSV, sorted."""
    numbers = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            try:
                numbers.append(float(cell))
            except ValueError:
                continue
    return np.sort(np.asarray(numbers, dtype=np.float64))


def in_table(value: float, tolerance: float, numbers: np.ndarray) -> bool:
    """Whether a CSV cell equals ``value`` to the printed precision (a binary search)."""
    at = int(np.searchsorted(numbers, value - tolerance))
    return at < numbers.size and bool(numbers[at] <= value + tolerance)


def unexplained(svg: str, table: str, caption: str) -> list[Plotted]:
    """The plotted values found in no CSV cell and not named by the caption: a value on an axis
    titled ``|…|`` (and its interval's other end) may be a CSV cell's magnitude when the caption
    says ``|ΔH|``."""
    numbers = csv_numbers(table)
    magnitudes = np.sort(np.abs(numbers))
    missing = []
    for point in plotted_values(labelled_items(svg)):
        if in_table(point.value, point.tolerance, numbers):
            continue
        named_magnitude = point.on_magnitude_axis and "|ΔH|" in caption
        if named_magnitude and in_table(point.value, point.tolerance, magnitudes):
            continue
        missing.append(point)
    return missing


def derived_names(svg: str) -> set[str]:
    """What the figure's aggregate marks say they show (``derived: …`` labels)."""
    return {
        label.removeprefix(DERIVED) for _, label in labelled_items(svg) if label.startswith(DERIVED)
    }
