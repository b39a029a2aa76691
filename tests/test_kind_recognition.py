"""Recognising the new kinds' files costs the standard library only (a no-op build does that)."""

from __future__ import annotations

import subprocess
import sys

import orjson

PROBE = """
import sys, orjson
from reportgen.kinds import batch_manifest, jackknife, rb_convergence
paths = ["a/x_results.jsonl", "a/y_results.jsonl", "b/rb_T1.pkl", "c/index.json", "c/run.json"]
found = [
    [c.files for c in jackknife.claims(paths)],
    [c.files for c in rb_convergence.claims(paths)],
    [p for p in paths if batch_manifest.matches(p)],
    jackknife.sniff(b'{"experiment_type": "x"}'),
    rb_convergence.sniff(b"\\x80\\x04population_stats"),
    batch_manifest.sniff(b'  [{"run": "run_01"}]'),
    batch_manifest.check_manifest("c/index.json", [{"run": "r", "path": "/x/r"}], ["c/r/f"]).shape,
]
print(orjson.dumps({"found": found, "modules": sorted(sys.modules)}).decode())
"""


def test_recognition_and_the_manifest_check_import_no_numpy_altair_or_jinja() -> None:
    output = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    data = orjson.loads(output)
    assert data["found"] == [
        [["a/x_results.jsonl", "a/y_results.jsonl"]],
        [["b/rb_T1.pkl"]],
        ["c/index.json"],
        True,
        True,
        True,
        "runs",
    ]
    heavy = [m for m in data["modules"] if m.split(".")[0] in ("numpy", "altair", "jinja2")]
    assert heavy == []
