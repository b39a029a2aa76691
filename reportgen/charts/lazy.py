"""Altair, imported on first use: chart specs usually come from the per-install cache."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _LazyModule:
    """A module stand-in that imports the module when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


if TYPE_CHECKING:
    import altair as alt
else:
    # a spec builder runs only when its spec is missing from the cache; Altair costs ~0.3 s
    alt = _LazyModule("altair")

__all__ = ["alt"]
