"""Recognising an entropy-influence directory cheaply: a name first, then summary.json's top level.

Imports only the standard library and orjson, so discovery can call it on every build.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from reportgen.kinds.common import ReadFile

NAME = "influence"
SUMMARY = "summary.json"
TOP_LEVEL = ("plan", "workspace", "evaluations")


def recognise(directory: Path, names: Collection[str], read: ReadFile) -> bool:
    """Whether ``directory`` (whose entry names are ``names``) is an influence run's output:
    a ``summary.json`` whose top level is an object with ``plan``, ``workspace`` and
    ``evaluations``. A summary that cannot be read or parsed is not recognised here."""
    if SUMMARY not in names:
        return False
    try:
        data = _parse(read(directory / SUMMARY))
    except Exception:  # any read or parse failure: not this kind (the tree's inventory lists it)
        return False
    return isinstance(data, dict) and all(key in data for key in TOP_LEVEL)


def _parse(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN / Infinity, as Python's json module writes them
        return json.loads(data.decode("utf-8"))
