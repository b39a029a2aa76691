"""Which ΔH normalisation a run used, read from its (or a sibling's) config.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from reportgen.discover import RunRef
from reportgen.load.fields import type_name
from reportgen.load.inputs import (
    ConfigRead,
)
from reportgen.load.models import ConfigProblem, Normalization

# --- configuration ---------------------------------------------------------------------------


NORMALIZE_KEY = ("approx_delta_h", "normalize")
PER_TOKEN_KEY = ("true_delta_h", "report_per_token")
DEFAULT_SOURCE = "default (the guide: per-token)"


def _setting(config: ConfigRead, key: tuple[str, str], kind: type) -> tuple[Any, str | None]:
    """A normalisation setting: ``(value or None when absent, why it could not be read)``."""
    block, name = key
    if block in config.unread_keys:
        return None, f"its {block} block could not be parsed"
    if config.problem is not None and block not in config.values:
        return None, f"{block} could not be read"
    section = config.values.get(block)
    if section is None:
        return None, None
    if not isinstance(section, Mapping):
        return None, f"{block} is not a mapping"
    value = section.get(name)
    if value is None:
        return None, None
    if not isinstance(value, kind) or (isinstance(value, str) and len(value) > 64):
        return None, f"{block}.{name} is {type_name(value)}, not a {kind.__name__}"
    return value, None


def resolve_normalization(
    ref: RunRef, config: ConfigRead | None, data_hint: str | None = None
) -> tuple[Normalization, ConfigProblem | None]:
    """The normalisation from the run's (or a sibling's) config, the data, or the default.

    A config that could not be read is never silently replaced by the default: what could be
    read is used, and the problem is returned, to become an error finding on the run.
    """
    if config is None:
        if data_hint is not None:
            return Normalization(
                "per_token" if data_hint == "per_token" else "per_sequence",
                data_hint,
                "the results file's own normalization field",
            ), None
        return Normalization("per_token", "per_token", DEFAULT_SOURCE), None
    borrowed = config.path != ref.config
    source = (
        f"config.yaml of sibling run ({config.path})" if borrowed else "config.yaml of this run"
    )
    approx_mode, approx_why = _setting(config, NORMALIZE_KEY, str)
    per_token, true_why = _setting(config, PER_TOKEN_KEY, bool)
    problem = None
    whys = [w for w in (approx_why, true_why) if w]
    if config.problem is not None or whys:
        reason = "; ".join([*([config.problem] if config.problem else []), *whys])
        problem = ConfigProblem(config.path, reason, borrowed, config.unread_keys)
    if whys:
        fallback = data_hint or "per_token"
        approx_mode = approx_mode if approx_why is None else fallback
        if true_why is not None:
            per_token = fallback == "per_token"
        source += f", partly unreadable (assumed {fallback} where it could not be read)"
    true_mode: Literal["per_token", "per_sequence"] = (
        "per_sequence" if per_token is False else "per_token"
    )
    return Normalization(true_mode, str(approx_mode or "per_token"), source, config.path), problem
