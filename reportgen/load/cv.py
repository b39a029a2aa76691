"""The control-variate schema generation, with its ``cv_*`` folder's per-feature statistics."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import PurePosixPath

import numpy as np

from reportgen.load.fields import Fields
from reportgen.load.inventory import KnownFields, under
from reportgen.load.models import (
    CvData,
    CvFeature,
    CvFeatureStat,
    CvSequences,
    CvTarget,
    DroppedValue,
    Fact,
    FloatArray,
    InputFile,
)

FEATURE_STATS_CSV = "cv_feature_stats.csv"
PER_SEQ_CSV = "cv_per_seq.csv"
ALL_FEATURES_BLOCK = "summary.diagnostics.all_features_stats"
# How the CV runner defines the per-sequence target: y_i = gdotv_i = scale·(wjlogp_sum + jH_sum)
TARGET_COLUMN = "gdotv_i"
TARGET_SUMMANDS = ("wjlogp_sum", "jH_sum")
TARGET_FORMULA = "y_i = scale·(wjlogp_sum + jH_sum)"
# the columns are float32 written as text: the identity holds to their rounding, not exactly
TARGET_IDENTITY_RTOL = 1e-6
PER_SEQ_MAX_BYTES = 32 * 1024 * 1024  # a larger per-sequence file is not parsed to verify

# --- control variates ------------------------------------------------------------------------


def _count(fields: Fields | None, key: str, dropped: list[DroppedValue] | None) -> int | None:
    """A count the file states; a negative one is recorded and left out (no later stage may
    take the square root of a negative number of sequences)."""
    if fields is None:
        return None
    value = fields.int(key)
    if value is None or value >= 0:
        return value
    if dropped is not None:
        dropped.append(DroppedValue(fields.where(key), str(value)))
    return None


def load_cv(
    data: Fields, artifacts: Sequence[InputFile] = (), dropped: list[DroppedValue] | None = None
) -> CvData:
    summary = data.sub("summary") or Fields({}, "summary")
    diagnostics = summary.sub("diagnostics")
    corr = dict(summary.float_map("corr"))
    beta = dict(summary.float_map("ols_beta"))
    after = dict(summary.float_map("var_after_cv"))
    selected = set(corr) | set(after)
    names = sorted(selected | set(beta))
    all_features, source = _all_features(diagnostics, selected, beta, artifacts)
    meta = diagnostics.sub("meta") if diagnostics else None
    per_seq = _latest(artifacts, PER_SEQ_CSV)
    sequences = cv_sequences(per_seq)
    return CvData(
        n_seqs=_count(summary, "n_seqs", dropped),
        normalization=summary.str("normalization"),
        mean_gdotv=summary.float("mean_gdotv"),
        var_gdotv=summary.float("var_gdotv"),
        gdotv_batch=diagnostics.float("gdotv_batch") if diagnostics else None,
        se_batch=diagnostics.float("se_batch") if diagnostics else None,
        se_batch_after_cv_joint=diagnostics.float("se_batch_after_cv_joint")
        if diagnostics
        else None,
        var_after_cv_joint=summary.float("var_after_cv_joint"),
        features=tuple(
            CvFeature(n, corr.get(n), beta.get(n), after.get(n), n in selected) for n in names
        ),
        all_features=all_features,
        all_features_source=source,
        target=cv_target(per_seq, meta.float("scale") if meta else None, sequences),
        sequences=sequences,
        crossfit_folds=_count(diagnostics, "crossfit_folds", dropped),
    )


def _all_features(
    diagnostics: Fields | None,
    selected: set[str],
    beta: dict[str, float],
    artifacts: Sequence[InputFile],
) -> tuple[tuple[CvFeatureStat, ...], str | None]:
    """Every candidate feature, from the results file's ``all_features_stats`` or else from the
    run's ``cv_feature_stats.csv``; the second value names the source."""
    stats = diagnostics.sub("all_features_stats") if diagnostics else None
    if stats is not None:
        corr = dict(stats.float_map("corr"))
        ratio = dict(stats.float_map("var_ratio_single"))
        se_after = dict(stats.float_map("se_after_single"))
        listed = diagnostics.data.get("features_all") if diagnostics else None
        order = [n for n in listed if isinstance(n, str)] if isinstance(listed, list) else []
        names = [n for n in order if n in corr or n in ratio]
        names += sorted((set(corr) | set(ratio) | set(se_after)) - set(names))
        features = tuple(
            CvFeatureStat(n, corr.get(n), ratio.get(n), se_after.get(n), n in selected, beta.get(n))
            for n in names
        )
        return features, ALL_FEATURES_BLOCK
    table = _latest(artifacts, FEATURE_STATS_CSV)
    if table is None:
        return (), None
    return _feature_stats_csv(table.content), table.path


def _latest(artifacts: Sequence[InputFile], name: str) -> InputFile | None:
    """The run's file called ``name`` in its last ``cv_*`` folder (folders are timestamped)."""
    found = [f for f in artifacts if PurePosixPath(f.path).name == name]
    return max(found, key=lambda f: f.path) if found else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _feature_stats_csv(content: bytes) -> tuple[CvFeatureStat, ...]:
    """``cv_feature_stats.csv`` rows; cells that are not numbers become ``None``."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8", errors="replace")))
    return tuple(
        CvFeatureStat(
            name=str(row.get("feature") or ""),
            corr=_number(row.get("corr")),
            var_ratio_single=_number(row.get("var_ratio_single")),
            se_after_single=_number(row.get("se_after_single")),
            selected=(row.get("selected_in_joint") or "").strip() in ("1", "True", "true"),
            beta_joint=_number(row.get("beta_joint")),
        )
        for row in reader
        if row.get("feature")
    )


def cv_sequences(per_seq: InputFile | None) -> CvSequences | None:
    """The per-sequence file's columns as float64 (a cell that is not a number: NaN); ``None``
    without a file, over the size bound, or when its rows do not match its header."""
    if per_seq is None or len(per_seq.content) > PER_SEQ_MAX_BYTES:
        return None
    text = per_seq.content.decode("utf-8", errors="replace")
    header, _, body = text.partition("\n")
    names = header.rstrip("\r").split(",")
    if not body.strip():
        return None
    values: FloatArray | None
    try:  # numpy's own parser; a cell that is not a number (or a ragged row) makes it refuse
        values = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:
        values = _cells(body, len(names))
    if values is None or values.shape[0] == 0 or values.shape[1] != len(names):
        return None
    return CvSequences(per_seq.path, {name: values[:, j] for j, name in enumerate(names)})


def _cells(body: str, width: int) -> FloatArray | None:
    """Every cell as a number, NaN where it is not one; ``None`` for a row of another width."""
    rows = [line.split(",") for line in body.splitlines() if line]
    if any(len(row) != width for row in rows):
        return None
    return np.array([[_cell(c) for c in row] for row in rows], dtype=np.float64)


def _cell(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def cv_target(
    per_seq: InputFile | None, scale: float | None, sequences: CvSequences | None = None
) -> CvTarget:
    """The target's definition, checked on the run's per-sequence file where it can be
    (``sequences``: its columns, when already read)."""

    def target(note: str, verified: str | None = None, deviation: float | None = None) -> CvTarget:
        return CvTarget(TARGET_FORMULA, TARGET_SUMMANDS, verified, deviation, note)

    if per_seq is None:
        return target(f"the CV runner's definition (no {PER_SEQ_CSV} to check it on)")
    if scale is None or not math.isfinite(scale):
        return target(f"the CV runner's definition (no meta.scale to check {per_seq.path})")
    if len(per_seq.content) > PER_SEQ_MAX_BYTES:
        return target(f"the CV runner's definition ({per_seq.path} too large to check)")
    columns = _target_columns(sequences or cv_sequences(per_seq))
    if columns is None:
        return target(f"the CV runner's definition ({per_seq.path} lacks the columns)")
    y, parts = columns[0], columns[1] + columns[2]
    with np.errstate(all="ignore"):
        deviation = float(np.max(np.abs(y - scale * parts)) / np.max(np.abs(y)))
    if math.isfinite(deviation) and deviation <= TARGET_IDENTITY_RTOL:
        return target(f"checked on {per_seq.path}", per_seq.path, deviation)
    return target(
        f"the CV runner's definition; {per_seq.path} does not reproduce it", None, deviation
    )


def _target_columns(sequences: CvSequences | None) -> list[np.ndarray] | None:
    """The target's and its summands' columns, ``None`` when one is missing or not numbers."""
    names = (TARGET_COLUMN, *TARGET_SUMMANDS)
    if sequences is None or not set(names) <= sequences.columns.keys():
        return None
    columns = [sequences.columns[n] for n in names]
    return columns if all(np.isfinite(c).all() for c in columns) else None


# --- the fields this generation knows --------------------------------------------------------

_AFS = "summary.diagnostics.all_features_stats"
CV_FIELDS = KnownFields(
    used=(
        *under(
            "summary",
            """n_seqs normalization mean_gdotv var_gdotv corr.* ols_beta.* var_after_cv.*
            var_after_cv_joint""",
        ),
        *under(
            "summary.diagnostics",
            """features features_all gdotv_batch se_batch se_batch_after_cv_joint ridge
            crossfit_folds meta.scale""",
        ),
        *under(_AFS, "corr.* var_ratio_single.* se_after_single.*"),
        *under("", "v_stats.method v_stats.vec_norm timing_sec.*"),
    ),
    unused={
        "paths": "absolute paths on the machine that wrote the run (its files are read here)",
        "config_used": "the CV settings, repeated in summary.diagnostics",
        "timestamp": "when the CV analysis ran",
        "summary.diagnostics.y_mean": "equals summary.mean_gdotv",
        "summary.diagnostics.var_batch": "se_batch squared",
        "summary.diagnostics.se_batch_after_cv": "per regression feature; the all-feature "
        "table shows each feature's SE after",
        "summary.diagnostics.meta.B_total": "equals summary.n_seqs",
        "summary.diagnostics.meta.T_total": "token total",
        "summary.diagnostics.meta.normalization": "equals summary.normalization",
        "summary.diagnostics.meta.baseline_kind": "the g·v baseline",
        "summary.diagnostics.meta.total_tokens_used": "equals T_total",
        f"{_AFS}.rank_top_abs_corr": "reportgen ranks the features itself",
        f"{_AFS}.rank_top_var_reduction": "reportgen ranks the features itself",
        "v_stats.num_params": "parameter tensors of the update",
        "v_stats.avg_mb_loss": "mean microbatch loss of the update",
        "v_stats.num_microbatches": "microbatches of the update",
        "v_stats.amp": "mixed-precision settings of the update",
    },
)


def cv_setting_facts(data: Fields) -> list[Fact]:
    """The regression's ridge and cross-fitting: with 0 folds the ratios are in-sample."""
    summary = data.sub("summary")
    diagnostics = summary.sub("diagnostics") if summary else None
    if diagnostics is None:
        return []
    return [
        Fact("CV ridge", diagnostics.float("ridge")),
        Fact("CV cross-fit folds (0: in-sample)", diagnostics.int("crossfit_folds")),
    ]
