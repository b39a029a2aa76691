"""Errors are values: one failing run, group or check becomes a result saying so."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("reportgen")
T = TypeVar("T")


def guarded(attempt: Callable[[], T], on_error: Callable[[str], T], what: str, verbose: bool) -> T:
    """``attempt()``, or ``on_error(reason)`` when it raises: nothing escapes to the build."""
    try:
        return attempt()
    except Exception as exc:  # one bad input never breaks the site
        if verbose:
            log.error("%s failed:\n%s", what, traceback.format_exc())
        return on_error(f"{type(exc).__name__}: {exc}"[:400])
