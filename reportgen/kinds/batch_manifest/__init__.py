"""Batch manifests (``index.json`` beside a batch of runs), checked against the tree.

The interface: ``matches``/``sniff`` (recognition), ``read_manifest(path, read)``,
``check_manifest(path, data, tree_paths, run_dirs)`` (pure) → ``ManifestCheck`` with its
findings, ``manifest_view(check, hrefs)`` for the ``_batch_manifest.html`` partial and
``manifest_json(check)``; ``CHECKS`` documents every check for the guide. Recognition and the
check need the standard library only.
"""

from __future__ import annotations

import importlib
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from reportgen.kinds.batch_manifest.check import check_manifest, map_path
from reportgen.kinds.batch_manifest.checks import CHECKS
from reportgen.kinds.batch_manifest.model import ListedPath, ManifestCheck, ManifestEntry
from reportgen.kinds.claims import SNIFF_BYTES

if TYPE_CHECKING:
    from reportgen.kinds.batch_manifest.reader import read_manifest
    from reportgen.kinds.batch_manifest.view import ManifestView, manifest_json, manifest_view

NAME = "index.json"
PARTIAL = "_batch_manifest.html"
SCHEMA = "batch-manifest.schema.json"  # in reportgen/schemas
_LAZY = {
    "read_manifest": "reportgen.kinds.batch_manifest.reader",
    "ManifestView": "reportgen.kinds.batch_manifest.view",
    "manifest_json": "reportgen.kinds.batch_manifest.view",
    "manifest_view": "reportgen.kinds.batch_manifest.view",
}


def matches(path: str) -> bool:
    return PurePosixPath(path).name == NAME


def sniff(head: bytes) -> bool:
    """A JSON list whose first object names a run."""
    window = head[:SNIFF_BYTES].lstrip()
    return window.startswith(b"[") and any(
        key in window for key in (b'"run"', b'"run_dir"', b'"path"')
    )


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "CHECKS",
    "NAME",
    "PARTIAL",
    "SCHEMA",
    "ListedPath",
    "ManifestCheck",
    "ManifestEntry",
    "ManifestView",
    "check_manifest",
    "manifest_json",
    "manifest_view",
    "map_path",
    "matches",
    "read_manifest",
    "sniff",
]
