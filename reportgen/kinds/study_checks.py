"""Checks every study kind shares (files not read, fields not understood) and p-value wording."""

from __future__ import annotations

import math
from collections.abc import Sequence

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.reading import NotRead
from reportgen.numfmt import NumberFormat, format_number, minus

INPUT_NOT_READ = "study-input-not-read"
UNRECOGNISED_FIELDS = "study-unrecognised-fields"
SHOWN_FIELDS = 8  # field paths named in a message; the page and summary.json list them all

SHARED_CHECKS = (
    CheckInfo(
        INPUT_NOT_READ,
        "warning",
        "A file of the study was not read",
        "A file the study claims (by its name and first bytes) could not be used: too large, "
        "unreadable, not the expected format, or a pickle asking for something other than "
        "numpy arrays, scalars, dtypes and plain containers. Pickles are never run: a refused "
        "pickle is listed with the global it asked for (such as `posix.system`), and the page "
        "is built from the remaining files.",
        "inputs",
    ),
    CheckInfo(
        UNRECOGNISED_FIELDS,
        "info",
        "Fields the loader does not read",
        "The files hold fields this kind does not know. They are listed by key path on the "
        "page and in `summary.json` (`unrecognised_fields`), so a block the experiments start "
        "writing is seen the night it appears instead of vanishing silently.",
        "inputs",
    ),
)


def input_findings(not_read: Sequence[NotRead], unrecognised: Sequence[str]) -> list[Finding]:
    findings = [
        Finding(
            INPUT_NOT_READ,
            "warning",
            f"{item.path} was not read: {item.reason}"
            + (f" (asked for {item.asked_for})" if item.asked_for else ""),
            section="inputs",
        )
        for item in not_read
    ]
    if unrecognised:
        shown = ", ".join(unrecognised[:SHOWN_FIELDS])
        more = len(unrecognised) - SHOWN_FIELDS
        findings.append(
            Finding(
                UNRECOGNISED_FIELDS,
                "info",
                f"{len(unrecognised)} field(s) not read: {shown}"
                + (f" and {more} more" if more > 0 else ""),
                section="inputs",
            )
        )
    return findings


def format_p(p_value: float | None, log10_p_value: float | None) -> str:
    """A p-value to two digits (0.53, 4.2e−208), from its logarithm once a float underflows."""
    if p_value is None or log10_p_value is None:
        return "—"
    if p_value > 0:
        return format_number(p_value, NumberFormat(digits=2))
    exponent = math.floor(log10_p_value)
    return minus(f"{10 ** (log10_p_value - exponent):.1f}e{exponent}")
