"""The contributions CSV, written a column at a time, is what writing every cell of every column
(the η on every row included) gives."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reportgen.analysis.contributions import EtaContributions
from reportgen.pages.serialize import CSV_COLUMNS, contributions_csv

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
WHOLE = st.integers(-(2**60), 2**60).map(float) | st.sampled_from([0.0, -0.0, 3.0, 2.0**53])


def every_cell(values: np.ndarray, integer: bool) -> list[str]:
    """Each cell on its own: orjson's shortest text, NaN and ±inf empty, whole counts as ints."""
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
    if integer and values.dtype.kind == "f" and np.all(whole):
        values = values.astype(np.int64)
    cells = [orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() for v in values]
    return ["" if cell == "null" else cell for cell in cells]


def reference_csv(contributions: list[EtaContributions]) -> bytes:
    lines = [",".join(CSV_COLUMNS)]
    for c in contributions:
        n = c.true_contrib.shape[0]
        missing = np.full(n, np.nan)
        columns = [
            np.full(n, c.eta),
            np.arange(n),
            c.true_contrib,
            c.linear if c.linear is not None else missing,
            c.quad if c.quad is not None else missing,
            c.linquad if c.linquad is not None else missing,
            c.token_count,
            c.weight,
        ]
        cells = [
            every_cell(np.asarray(col), name in ("index", "token_count"))
            for name, col in zip(CSV_COLUMNS, columns, strict=True)
        ]
        lines.extend(map(",".join, zip(*cells, strict=True)))
    return ("\n".join(lines) + "\n").encode()


@st.composite
def eta_contributions(draw: st.DrawFn) -> EtaContributions:
    n = draw(st.integers(0, 6))

    def column(elements: st.SearchStrategy[float]) -> np.ndarray:
        return draw(arrays(np.float64, n, elements=elements))

    return EtaContributions(
        eta=draw(st.floats(1e-9, 1.0) | st.sampled_from([1e-5, 3.2e-6])),
        true_contrib=column(FLOATS),
        linear=draw(st.none() | st.just(column(FLOATS))),
        quad=draw(st.none() | st.just(column(FLOATS))),
        token_count=column(WHOLE | FLOATS),
        weight=column(FLOATS),
    )


@given(st.lists(eta_contributions(), max_size=4))
def test_the_csv_is_every_cell_written_alone(contributions: list[EtaContributions]) -> None:
    with np.errstate(over="ignore"):  # linear + quad of two huge values: inf, an empty cell
        assert contributions_csv(contributions) == reference_csv(contributions)
