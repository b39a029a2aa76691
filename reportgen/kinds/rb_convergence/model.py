"""The Rao-Blackwell convergence study as loaded: per temperature, a population and subsamples."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.kinds.reading import NotRead

ESTIMATORS = ("basic", "rb")
ESTIMATOR_NAMES = {"basic": "basic", "rb": "Rao-Blackwell"}


@dataclass(frozen=True)
class PopulationStats:
    """The pool of N per-sample values of both estimators that subsamples are drawn from."""

    basic_mean: float
    basic_std: float
    rb_mean: float
    rb_std: float
    correlation: float | None  # between the two estimators' values
    n_samples: int  # N


@dataclass(frozen=True)
class EstimatorRow:
    """One estimator over the n_bootstrap subsamples of one size, as the file reports it."""

    mean_est: float | None  # mean of the subsample means
    std_est: float | None  # their SD across subsamples: the observed SE at this n
    expected_se: float | None  # what the notebook expected
    bias: float | None
    mc_se: float | None


@dataclass(frozen=True)
class ConvergenceRow:
    sample_size: int  # n
    n_bootstrap: int | None  # m, subsamples of size n
    basic: EstimatorRow
    rb: EstimatorRow
    var_reduction: float | None  # as the file has it

    def estimator(self, name: str) -> EstimatorRow:
        return self.basic if name == "basic" else self.rb


@dataclass(frozen=True)
class TemperatureRun:
    """One temperature's experiment (one pickle, or one entry of a pickle keyed by it)."""

    source: str
    key: str | None  # the entry's key when the pickle holds several
    temperature: float | None
    exp_info: tuple[tuple[str, str], ...]  # (key, value as text), in the file's order
    population: PopulationStats
    rows: tuple[ConvergenceRow, ...]  # by sample size

    @property
    def label(self) -> str:
        if self.temperature is not None:
            return f"T = {self.temperature:g}"
        return self.key or self.source


@dataclass(frozen=True)
class SkippedPart:
    path: str
    reason: str


@dataclass(frozen=True)
class ConvergenceStudy:
    """Every temperature of the study's pickles; ``inputs`` lists every claimed file."""

    directory: str
    runs: tuple[TemperatureRun, ...]  # by temperature
    inputs: tuple[str, ...]
    not_read: tuple[NotRead, ...]
    skipped: tuple[SkippedPart, ...]
    unrecognised: tuple[str, ...]
