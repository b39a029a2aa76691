"""A run's configuration as flat parameters: what "what differs" and populations compare."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

# Keys that differ between runs of one experiment without making it another experiment:
# seeds, file-system locations, timestamps, what was logged (not what was measured), and the
# η grid (it decides where ΔH is measured, not what; cross-run statistics are per η anyway).
INCIDENTAL = re.compile(
    r"(^|[._])(seed|seeds|random_state|path|paths|dir|directory|root|file|filename|out|output|"
    r"log|logging|time|timestamp|date|datetime|created|started|finished|host|hostname|run_id|"
    r"run_name|name|capture_per_sequence|verbose|debug|notes?|eta_list|etas|eta_grid|lr_list)"
    r"([._]|$)",
    re.IGNORECASE,
)
MAX_PARAMETERS = 2_000
MAX_VALUE_CHARS = 200


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Leaves of nested mappings as dotted keys, values as compact JSON text."""
    if isinstance(data, Mapping):
        flat: dict[str, str] = {}
        for key, value in data.items():
            flat |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
            if len(flat) > MAX_PARAMETERS:
                break
        return flat
    try:
        text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # a YAML date or another non-JSON scalar
        text = orjson.dumps(str(data)).decode()
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return {prefix: text}


def run_parameters(
    config: Mapping[str, Any] | None, plan: Mapping[str, Any] | None
) -> tuple[tuple[str, str], ...]:
    """``config.<key>`` and ``plan.<key>`` leaves, sorted, at most ``MAX_PARAMETERS``."""
    flat = flatten(config or {}, "config") if config else {}
    if plan:
        flat |= flatten(plan, "plan")
    return tuple(sorted(flat.items()))[:MAX_PARAMETERS]


def is_incidental(key: str) -> bool:
    return INCIDENTAL.search(key) is not None
