"""The loaded run: frozen dataclasses the load stage hands to analysis.

What discovery finds (``RunRef``, ``Tree``) is defined in ``discover.py``: an up-to-date build
needs only that, and creating the hundred-odd dataclasses here would be a tenth of its time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from reportgen.discover import RunRef
from reportgen.findings import SkippedInput
from reportgen.load.fingerprint import FieldFingerprint

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]


class Schema(StrEnum):
    """Schema generations of a results file."""

    SNIS = "snis"
    SWEEP = "eta-sweep"
    CV = "control-variates"
    GENERIC = "generic"


# --- loaded runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalization:
    """Which ΔH normalisation a run used, and where that setting came from."""

    true_mode: Literal["per_token", "per_sequence"]
    approx_mode: str
    source: str
    config_path: str | None = None

    @property
    def is_per_token(self) -> bool:
        return self.true_mode == "per_token" and self.approx_mode == "per_token"


@dataclass(frozen=True)
class Fact:
    """One labelled key fact; ``value`` is formatted by the template."""

    label: str
    value: str | float | int | bool | None
    unit: str = ""


@dataclass(frozen=True, eq=False)
class PerSequence:
    """``approx.per_sequence`` as columns."""

    index: IntArray
    gdotv: FloatArray
    vhvv: FloatArray | None
    length: FloatArray | None
    columns: tuple[tuple[str, FloatArray], ...] = ()

    def __len__(self) -> int:
        return int(self.gdotv.shape[0])


@dataclass(frozen=True)
class SequenceMeta:
    b_total: int | None
    t_total: int | None
    scale: float | None
    h_base_mean: float | None
    baseline_kind: str | None


@dataclass(frozen=True, eq=False)
class Curvature:
    """Batch-level quadratic diagnostics (``approx.quadratic`` or a sweep's ``curvature``)."""

    gdotv: float | None
    vhvv: float | None
    eta_star: float | None
    ratio_pred: tuple[tuple[float, float], ...]
    per_sequence_vhvv: FloatArray | None
    se_gdotv: float | None
    se_vhvv: float | None
    method: str | None
    num_shards: int | None = None


@dataclass(frozen=True, eq=False)
class Approx:
    delta_h_per_lr: float | None
    num_sequences: int | None
    num_tokens: int | None
    method: str | None
    estimator: str | None
    baseline_kind: str | None
    se_shard: float | None
    se_jackknife: float | None
    num_shards: int | None
    eta_star: float | None
    used_quad: bool | None
    duration: float | None
    update_seconds: float | None
    per_sequence: PerSequence | None
    meta: SequenceMeta | None
    quadratic: Curvature | None


@dataclass(frozen=True)
class LogWeightStats:
    """Minimum, median and maximum of SNIS log-weights."""

    min: float | None
    median: float | None
    max: float | None


@dataclass(frozen=True)
class ClipOverride:
    """ΔH_true at one η recomputed with another SNIS clip threshold (``clip_overrides``)."""

    threshold: float
    key: str  # the threshold as the file spells it (``%.6g``)
    delta_h_true: float | None
    ess: float | None
    clip_fraction: float | None
    weights_sum: float | None
    logweights: LogWeightStats | None


@dataclass(frozen=True)
class SymmetricFd:
    """``diagnostics.symmetric_fd``: ΔH_true at +η and −η; η = 0 means it was not measured."""

    eta: float
    delta_plus: float | None
    delta_minus: float | None
    finite_difference: float | None
    ess_plus: float | None = None
    ess_minus: float | None = None
    clip_fraction_plus: float | None = None
    clip_fraction_minus: float | None = None
    weights_sum_plus: float | None = None
    weights_sum_minus: float | None = None
    logweights_plus: LogWeightStats | None = None
    logweights_minus: LogWeightStats | None = None

    @property
    def measured(self) -> bool:
        return math.isfinite(self.eta) and self.eta > 0


@dataclass(frozen=True, eq=False)
class TrueEntry:
    """One η of the SNIS ground truth, with its per-sequence arrays (``None`` when absent)."""

    eta: float
    delta_h_true: float | None
    base_entropy: float | None
    ess: float | None
    clip_fraction: float | None
    weights_sum: float | None
    logweight_min: float | None
    logweight_median: float | None
    logweight_max: float | None
    normalized_weights: FloatArray | None
    log_weights: FloatArray | None
    h_base: FloatArray | None
    h_new: FloatArray | None
    delta_h_seq: FloatArray | None
    token_counts: FloatArray | None
    clip_overrides: tuple[ClipOverride, ...] = ()  # sorted by threshold
    symmetric_fd: SymmetricFd | None = None


@dataclass(frozen=True, slots=True)
class GradientClip:
    """``gradient_clip`` of the update: the norm bound, the scale applied, the norm before."""

    max_norm: float | None
    applied_scale: float | None
    preclip_norm: float | None

    @property
    def applied(self) -> bool | None:
        """Whether clipping changed the gradient (scale below 1, or norm above the bound)."""
        if self.applied_scale is not None:
            return self.applied_scale < 1.0
        if self.preclip_norm is not None and self.max_norm is not None:
            return self.preclip_norm > self.max_norm
        return None


@dataclass(frozen=True, slots=True)
class UpdateStats:
    """The update vector's newer statistics, from ``update`` or ``approx.update_stats``."""

    source: str
    baseline_norm: float | None
    per_sequence_count: int | None
    gradient_clip: GradientClip | None


@dataclass(frozen=True, eq=False)
class SnisData:
    approx: Approx
    entries: tuple[TrueEntry, ...]
    has_control_variates: bool
    update: UpdateStats | None = None


@dataclass(frozen=True, eq=False)
class SweepData:
    etas: FloatArray
    delta_h_true: FloatArray
    delta_h_linear: FloatArray
    delta_h_linquad: FloatArray
    curvature: Curvature | None
    variance: float | None


@dataclass(frozen=True, slots=True)
class CvFeature:
    name: str
    corr: float | None
    ols_beta: float | None
    var_after_cv: float | None
    selected: bool


@dataclass(frozen=True)
class CvFeatureStat:
    """One candidate feature of a control-variate run, alone: its correlation with g·v, the
    variance ratio and SE of the mean after using it as the only control variate."""

    name: str
    corr: float | None
    var_ratio_single: float | None
    se_after_single: float | None
    selected: bool  # in the joint regression
    beta_joint: float | None


@dataclass(frozen=True, slots=True)
class CvTarget:
    """What the CV target y_i is made of, and how that was established."""

    formula: str
    summands: tuple[str, ...]
    verified_on: str | None  # the per-sequence file the identity was checked on
    max_deviation: float | None  # max |y_i − formula_i| / max |y_i| there
    note: str


@dataclass(frozen=True, eq=False)
class CvSequences:
    """The run's per-sequence CV table (``cv_per_seq.csv``): its numeric columns by name."""

    path: str
    columns: Mapping[str, FloatArray]


@dataclass(frozen=True)
class CvData:
    n_seqs: int | None
    normalization: str | None
    mean_gdotv: float | None
    var_gdotv: float | None
    gdotv_batch: float | None
    se_batch: float | None
    se_batch_after_cv_joint: float | None
    var_after_cv_joint: float | None
    features: tuple[CvFeature, ...]
    all_features: tuple[CvFeatureStat, ...] = ()
    all_features_source: str | None = None
    target: CvTarget | None = None
    sequences: CvSequences | None = field(default=None, compare=False, repr=False)
    crossfit_folds: int | None = None  # of the joint regression (0: fitted in-sample)


@dataclass(frozen=True)
class GenericField:
    """A scalar field, or a list summarised by length and numeric range."""

    path: str
    value: str | float | int | bool | None
    length: int | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, eq=False)
class InputFile:
    path: str
    content: bytes


@dataclass(frozen=True, eq=False)
class InputFiles:
    """What a page shows of the run's files, read once by the loader (pages never read)."""

    source_sha256: str = ""
    notes: tuple[InputFile, ...] = ()  # UTF-8 text, cut to what a page embeds
    images: tuple[InputFile, ...] = ()
    artifacts: tuple[InputFile, ...] = ()
    skipped: tuple[SkippedInput, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldInventory:
    """Key paths of the results file that the loader does not know (the first of them, and
    how many), and the known ones it deliberately does not show (path, why)."""

    unrecognised: tuple[str, ...] = ()
    unrecognised_total: int = 0
    unused: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ConfigProblem:
    """A config.yaml (the run's own or the sibling's it borrows) that could not be fully read."""

    path: str
    reason: str
    borrowed: bool
    unread_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class DroppedValue:
    """A value the loader refused to pass on (e.g. a NaN η), so no later stage sees it."""

    where: str
    value: str


@dataclass(frozen=True, eq=False)
class Run:
    """A loaded run; exactly one of the schema blocks is set (``generic`` for unknown objects)."""

    ref: RunRef
    schema: Schema
    normalization: Normalization
    facts: tuple[Fact, ...]
    config_text: str | None
    plan_text: str | None
    capture_per_sequence: bool | None
    parameters: tuple[tuple[str, str], ...] = ()  # config.* and plan.* leaves (parameters.py)
    parameter_digests: tuple[tuple[str, str], ...] = ()  # every leaf's value digest
    fields: FieldFingerprint | None = None  # the results file's key paths (fingerprint.py)
    snis: SnisData | None = None
    sweep: SweepData | None = None
    cv: CvData | None = None
    generic: tuple[GenericField, ...] = ()
    inputs: InputFiles = InputFiles()
    config_problems: tuple[ConfigProblem, ...] = ()
    dropped: tuple[DroppedValue, ...] = ()
    field_inventory: FieldInventory = FieldInventory()


@dataclass(frozen=True)
class LoadFailure:
    """Why a run could not be loaded: errors are values, never escaping exceptions."""

    ref: RunRef
    reason: str
    file: str
    line: int | None = None
    column: int | None = None
    hint: str = ""


def __getattr__(name: str) -> Any:
    """``FloatArray`` / ``IntArray`` at run time, importing numpy only when asked for.

    The discovery, status and no-op build paths import this module; numpy costs them ~0.1 s.
    """
    if name in ("FloatArray", "IntArray"):
        import numpy as np
        import numpy.typing as npt

        if name == "FloatArray":
            return npt.NDArray[np.float64]
        return npt.NDArray[np.int64]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Approx",
    "ClipOverride",
    "ConfigProblem",
    "Curvature",
    "CvData",
    "CvFeature",
    "CvFeatureStat",
    "CvTarget",
    "DroppedValue",
    "Fact",
    "FieldInventory",
    "FloatArray",
    "GenericField",
    "GradientClip",
    "InputFile",
    "InputFiles",
    "IntArray",
    "LoadFailure",
    "LogWeightStats",
    "Normalization",
    "PerSequence",
    "Run",
    "Schema",
    "SequenceMeta",
    "SnisData",
    "SweepData",
    "SymmetricFd",
    "TrueEntry",
    "UpdateStats",
]
