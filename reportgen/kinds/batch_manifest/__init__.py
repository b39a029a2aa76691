"""Batch manifests (``index.json`` beside a batch of runs), checked against the tree.

The interface: ``matches``/``sniff`` (recognition), ``read_manifest(path, read)``,
``check_manifest(path, data, tree_paths, run_dirs)`` (pure) → ``ManifestCheck`` with its
findings, ``manifest_view(check, hrefs)`` for the ``_batch_manifest.html`` partial and
``manifest_json(check)``; ``CHECKS`` documents every check for the guide.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import orjson

from reportgen.kinds.batch_manifest.check import check_manifest, map_path
from reportgen.kinds.batch_manifest.checks import CHECKS
from reportgen.kinds.batch_manifest.model import ListedPath, ManifestCheck, ManifestEntry
from reportgen.kinds.batch_manifest.view import ManifestView, manifest_json, manifest_view
from reportgen.kinds.reading import SNIFF_BYTES, NotRead, Read, not_read
from reportgen.load.inputs import LoadError

NAME = "index.json"
PARTIAL = "_batch_manifest.html"
SCHEMA = "batch-manifest.schema.json"
MAX_BYTES = 16 * 1024 * 1024  # a manifest lists runs; larger is something else


def matches(path: str) -> bool:
    return PurePosixPath(path).name == NAME


def sniff(head: bytes) -> bool:
    """A JSON list whose first object names a run."""
    window = head[:SNIFF_BYTES].lstrip()
    return window.startswith(b"[") and any(
        key in window for key in (b'"run"', b'"run_dir"', b'"path"')
    )


def read_manifest(path: str, read: Read) -> Any | NotRead:
    """The manifest's parsed JSON, or why it was not read."""
    try:
        return orjson.loads(read(path, MAX_BYTES))
    except LoadError as error:
        return not_read(path, error)
    except orjson.JSONDecodeError as error:
        return NotRead(path, f"not JSON ({error})")


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
