"""Checks of a group's runs taken together (the group page reports them)."""

from __future__ import annotations

from collections.abc import Iterator

from reportgen.analysis.diagnostics.registry import Hit, check
from reportgen.analysis.populations import DuplicateSet


@check("duplicate-run", "info", "Byte-identical results files", "populations", scope="group")
def duplicate_run(duplicates: DuplicateSet) -> Iterator[Hit]:
    """Two or more results files of the group have the same content (the same sha256): they
    are one run, counted once in every statistic. The run kept is the first id in code-point
    order; the copies are listed beside it.

    **Why it matters:** a copied file counted twice doubles its weight in every mean, pooled
    estimate and "n of m runs" count, and makes the runs look more consistent than they are.

    **What to do:** nothing for the statistics; delete the copy, or label it in
    `reportgen.toml` if it was kept on purpose.
    """
    copies = ", ".join(duplicates.copies)
    verb = "is" if len(duplicates.copies) == 1 else "are"
    yield Hit(
        f"{copies} {verb} byte-identical to {duplicates.canonical} (sha256 "
        f"{duplicates.sha256[:12]}): counted once"
    )
