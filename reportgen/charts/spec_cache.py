"""Chart specs built once per argument tuple and kept per install, keyed by the code."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from reportgen.charts.core import Spec
from reportgen.pages.assets import assets_fingerprint

_CACHED_BUILDERS: dict[str, Any] = {}


def cached_spec(build: Callable[..., Spec]) -> Callable[..., Spec]:
    """Build a spec once per argument tuple; every call gets its own deep copy.

    Altair takes tens of milliseconds per spec, and every worker process would pay that again:
    specs are also kept on disk per install (like the Vega bundle), keyed by the code that
    builds them, so a build's workers start with every spec an earlier build made.
    """
    # kept as JSON: a copy is one parse
    encoded = functools.cache(functools.partial(_stored_json, build))
    _CACHED_BUILDERS[build.__name__] = encoded

    @functools.wraps(build)
    def fresh(*args: Any) -> Spec:
        spec: Spec = orjson.loads(encoded(*args))
        return spec

    return fresh


def _stored_json(build: Callable[..., Spec], *args: Any) -> bytes:
    return orjson.dumps(_stored_spec(build, *args))


def _stored_spec(build: Callable[..., Spec], *args: Any) -> Spec:
    """``build(*args)`` from the per-install spec cache (sealed entries only), or built and
    stored there."""
    from reportgen.install_cache import install_cache

    try:
        key = orjson.dumps([assets_fingerprint(), build.__module__, build.__qualname__, args])
    except TypeError:  # arguments without a JSON form: build, do not store
        return build(*args)
    name = f"specs/{hashlib.sha256(key).hexdigest()}.json"
    stored = install_cache().get(name)
    if stored is not None:
        with contextlib.suppress(ValueError):
            spec: Spec = orjson.loads(stored)
            return spec
    spec = build(*args)
    install_cache().put(name, orjson.dumps(spec))
    return spec


def spec_cache_info() -> dict[str, Any]:
    """``functools`` cache statistics per spec builder (for tests and build logs)."""
    return {name: builder.cache_info() for name, builder in _CACHED_BUILDERS.items()}


# Taken now, with the chart code it describes: computed lazily, a build running while the package
# is upgraded would store the old code's specs under the new code's key. It covers this package's
# code and Altair's version, everything a spec builder's output can depend on.
assets_fingerprint()
