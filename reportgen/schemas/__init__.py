"""JSON Schemas (draft 2020-12) of the public outputs: the contract a reader can validate against.

The site's files are ``run-summary`` (``runs/<run>/summary.json``), ``group-summary``
(``groups/<group>/summary.json``), ``manifest`` (``manifest.json``) and ``changes``
(``changes.json``); the other experiment kinds ship a schema each beside them. Fields are only
ever added, so every object allows properties beyond those listed.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

KINDS = ("run-summary", "group-summary", "manifest", "changes")


def names() -> tuple[str, ...]:
    """Every schema shipped with the package, by name (``run-summary``, …)."""
    files = resources.files(__name__).iterdir()
    suffix = ".schema.json"
    return tuple(sorted(f.name.removesuffix(suffix) for f in files if f.name.endswith(suffix)))


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` (see ``names()``), as shipped with the package."""
    if name not in names():
        raise ValueError(f"no schema {name!r}; there are {', '.join(names())}")
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
