"""What the cross-run statistics read of a run: a protocol, so they never depend on how the
build caches runs (``record.RunRecord`` is one such run)."""

from __future__ import annotations

from typing import Protocol

from reportgen.analysis.cv_batch import RunBatchRecord
from reportgen.analysis.points import RunPoints
from reportgen.analysis.populations import PopulationMember
from reportgen.analysis.tails import TailSensitivity
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.load.models import CvFeature


class Normalization(Protocol):
    """How a run normalised ΔH_true and its approximation (``"per_token"``, …)."""

    @property
    def true(self) -> str: ...

    @property
    def approx(self) -> str: ...


class CvStatistics(RunBatchRecord, Protocol):
    """A run's control-variate results as the group statistics need them (its batch numbers
    check its group's CV batch aggregate)."""

    @property
    def var_after_cv_joint(self) -> float | None: ...

    @property
    def features(self) -> tuple[CvFeature, ...]: ...


class GroupMember(Protocol):
    """One run of a group; ``schema`` is ``None`` for a run that was never read."""

    @property
    def id(self) -> str: ...

    @property
    def schema(self) -> str | None: ...

    @property
    def batch_size(self) -> int | None: ...

    @property
    def normalization(self) -> Normalization | None: ...

    @property
    def parameters(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def was_read(self) -> bool: ...

    @property
    def member(self) -> PopulationMember: ...

    @property
    def points(self) -> RunPoints: ...

    @property
    def eta_errors(self) -> tuple[EtaUncertainty | None, ...]: ...

    @property
    def uncertainty(self) -> RunUncertainty | None: ...

    @property
    def tails(self) -> tuple[TailSensitivity, ...]: ...

    @property
    def cv(self) -> CvStatistics | None: ...
