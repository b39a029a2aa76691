"""Chart kinds as data-free Vega-Lite specs plus the columnar datasets they read.

Every kind returns ``(Chart, {dataset_name: columnar(...)})``; a page merges the datasets of its
charts (``merge_datasets``) into one ``{"datasets": …}`` JSON block (``page_data_json``).
"""

from reportgen.charts.batch import batch_comparison_chart
from reportgen.charts.core import (
    ETA_ELEMENT,
    ETA_PARAM,
    Chart,
    Columns,
    Datasets,
    Norm,
    Spec,
    columnar,
    dataset_names,
    merge_datasets,
    page_data_json,
    with_initial_eta,
    with_key,
)
from reportgen.charts.cv import cv_bars, cv_group_chart
from reportgen.charts.data import (
    PER_SEQ,
    PER_SEQ_COLUMNS,
    PerSeqTable,
    concat_columns,
    downsample_indices,
    histogram_rows,
    per_seq_table,
    shared_ranges,
)
from reportgen.charts.fits import fit_chart
from reportgen.charts.grid import approximations_grid
from reportgen.charts.group import group_band, group_overlay, relative_error_chart
from reportgen.charts.palette import RUN_COLORS, SERIES, SERIES_COLORS
from reportgen.charts.run import (
    contribution_histograms,
    error_histogram,
    eta_curve,
    quad_vs_linear,
    true_vs_linear,
)
from reportgen.charts.spec_cache import spec_cache_info
from reportgen.charts.tails import group_tail_chart, tail_ratio
from reportgen.charts.weights import ess_curve, logweight_range, weight_distributions

__all__ = [
    "ETA_ELEMENT",
    "ETA_PARAM",
    "PER_SEQ",
    "PER_SEQ_COLUMNS",
    "RUN_COLORS",
    "SERIES",
    "SERIES_COLORS",
    "Chart",
    "Columns",
    "Datasets",
    "Norm",
    "PerSeqTable",
    "Spec",
    "approximations_grid",
    "batch_comparison_chart",
    "columnar",
    "concat_columns",
    "contribution_histograms",
    "cv_bars",
    "cv_group_chart",
    "dataset_names",
    "downsample_indices",
    "error_histogram",
    "ess_curve",
    "eta_curve",
    "fit_chart",
    "group_band",
    "group_overlay",
    "group_tail_chart",
    "histogram_rows",
    "logweight_range",
    "merge_datasets",
    "page_data_json",
    "per_seq_table",
    "quad_vs_linear",
    "relative_error_chart",
    "shared_ranges",
    "spec_cache_info",
    "tail_ratio",
    "true_vs_linear",
    "weight_distributions",
    "with_initial_eta",
    "with_key",
]
