"""Deterministic synthetic results trees in the three schema generations (SNIS, η sweep, CV).

The demo tree (``reportgen demo``), the test fixtures and the benchmark trees all come from
here; one module per schema generation, ``tree`` lays them out as a real experiment tree does.
"""

from __future__ import annotations

from reportgen.demo.common import PNG_SIGNATURE, SAMPLE_ETAS, snis_config_text
from reportgen.demo.cv import cv_aggregate, generate_cv_results, png_bytes
from reportgen.demo.snis import generate_snis_results
from reportgen.demo.sweep import generate_sweep_results
from reportgen.demo.tree import bench_tree, generate_sample_tree, scale_tree

__all__ = [
    "PNG_SIGNATURE",
    "SAMPLE_ETAS",
    "bench_tree",
    "cv_aggregate",
    "generate_cv_results",
    "generate_sample_tree",
    "generate_snis_results",
    "generate_sweep_results",
    "png_bytes",
    "scale_tree",
    "snis_config_text",
]
