"""Reading a batch manifest's JSON through the build's bounded reader (errors are values)."""

from __future__ import annotations

from typing import Any

import orjson

from reportgen.kinds.reading import NotRead, Read, not_read
from reportgen.load.inputs import LoadError

MAX_BYTES = 16 * 1024 * 1024  # a manifest lists runs; larger is something else


def read_manifest(path: str, read: Read) -> Any | NotRead:
    """The manifest's parsed JSON, or why it was not read."""
    try:
        return orjson.loads(read(path, MAX_BYTES))
    except LoadError as error:
        return not_read(path, error)
    except orjson.JSONDecodeError as error:
        return NotRead(path, f"not JSON ({error})")
