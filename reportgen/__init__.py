"""reportgen: an offline static site for entropy-experiment results trees.

In a notebook, ``reportgen.open(path)`` reads a results tree as the site does (``api``); the
API is imported on first use, so ``import reportgen`` and the command line stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.5.1"
__all__ = ["Group", "Run", "Tree", "__version__", "open"]
_API = frozenset({"Group", "Run", "Tree", "open"})

if TYPE_CHECKING:
    from reportgen.api import Group, Run, Tree, open


def __getattr__(name: str) -> Any:
    if name in _API:
        # by name, on first use: every stage imports __version__ from this module, which
        # must not import them back
        api = importlib.import_module("reportgen.api")
        return getattr(api, name)
    raise AttributeError(f"module 'reportgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
