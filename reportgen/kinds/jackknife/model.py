"""The jackknife-vs-batch-size study as loaded: points, the setting each was measured in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reportgen.kinds.reading import NotRead

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, order=True)
class Setting:
    """What must be equal for two points to measure the same quantity (never pooled across)."""

    experiment_type: str | None
    dataset: str | None
    split: str | None
    checkpoint: str | None
    temperature: float | None
    generation: str | None  # the rest of generation_config, as compact JSON

    @property
    def short_checkpoint(self) -> str | None:
        """A checkpoint path by its last two parts (``step_40/model``)."""
        if self.checkpoint is None:
            return None
        return "/".join(self.checkpoint.rstrip("/").split("/")[-2:])

    def part(self, name: str) -> str | None:
        """One field in words (a checkpoint path by its last two parts)."""
        value = getattr(self, name)
        if value is None:
            return None
        if name == "temperature":
            return f"T = {value:g}"
        if name == "checkpoint":
            return f"checkpoint {self.short_checkpoint}"
        return f"{name.replace('_', ' ')} {value}"

    def label(self, names: tuple[str, ...] = ("split", "temperature", "checkpoint")) -> str:
        return " · ".join(p for n in names if (p := self.part(n))) or "unspecified setting"


SETTING_FIELDS = ("split", "temperature", "checkpoint", "dataset", "experiment_type", "generation")


def setting_labels(settings: tuple[Setting, ...]) -> tuple[str, ...]:
    """Short labels naming only the fields in which the settings differ."""
    differing = tuple(
        name for name in SETTING_FIELDS if len({getattr(s, name) for s in settings}) > 1
    )
    return tuple(s.label(differing or ("split", "temperature")) for s in settings)


@dataclass(frozen=True)
class Distribution:
    """The flat files' ``distribution_analysis`` of per-sequence values."""

    count: int | None
    mean: float | None
    std: float | None
    minimum: float | None
    maximum: float | None
    quantiles: tuple[tuple[float, float], ...]  # (q, value), q in (0, 1), ascending

    def quantile(self, q: float) -> float | None:
        return next((v for p, v in self.quantiles if abs(p - q) < 1e-9), None)


@dataclass(frozen=True, eq=False)
class JackknifePoint:
    """One experiment: the estimate over B prompts (G generations each) and its jackknife SE."""

    source: str  # the file
    index: int  # position among the file's experiments
    line: int  # line of the object in the file (JSON Lines) or 1
    setting: Setting
    batch: int  # B
    generations: int | None  # G
    seed: int | None
    estimate: float
    variance: float | None  # variance_estimate: the jackknife variance of the estimate
    se: float | None  # std_dev_estimate: √variance_estimate, the SE of the estimate
    per_prompt_means: FloatArray | None
    distribution: Distribution | None


@dataclass(frozen=True)
class SkippedPart:
    """A part of a file that was read but not used (an experiment without B, say)."""

    path: str
    reason: str


@dataclass(frozen=True)
class JackknifeStudy:
    """Every point of the study's files; ``inputs`` lists every claimed file (``not_read`` too)."""

    directory: str
    points: tuple[JackknifePoint, ...]
    summaries: tuple[tuple[str, str], ...]  # (file, its own `summary` block as compact JSON)
    inputs: tuple[str, ...]
    not_read: tuple[NotRead, ...]
    skipped: tuple[SkippedPart, ...]
    unrecognised: tuple[str, ...]  # "file: key.path" of fields the loader does not read
