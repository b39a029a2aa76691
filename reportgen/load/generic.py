"""Any other JSON object: its scalar fields and list summaries, for a generic page."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from reportgen.load.fields import GENERIC_MAX_DEPTH
from reportgen.load.models import GenericField

# --- generic ---------------------------------------------------------------------------------


def generic_fields(data: Any, path: str = "", depth: int = 0) -> Iterator[GenericField]:
    """Scalars as a flat tree; lists summarised by length and numeric range."""
    if isinstance(data, Mapping):
        if depth >= GENERIC_MAX_DEPTH:
            yield GenericField(path or "(root)", f"… {len(data)} keys nested deeper")
            return
        for key in sorted(data, key=str):
            yield from generic_fields(data[key], f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(data, list):
        numbers = [v for v in data if isinstance(v, (int, float)) and not isinstance(v, bool)]
        finite = [float(v) for v in numbers if math.isfinite(v)]
        yield GenericField(
            path or "(root)",
            None,
            length=len(data),
            minimum=min(finite) if finite else None,
            maximum=max(finite) if finite else None,
        )
    elif data is None or isinstance(data, (str, int, float, bool)):
        yield GenericField(path or "(root)", data)
