"""Pickles read without running them: only numpy arrays, scalars, dtypes and plain containers.

``pickle.load`` calls whatever a file names, so a pickle from the results tree could run any
code. Here a pickle is first scanned opcode by opcode without building anything (nesting depth
and memo indices bounded: a 2 MB pickle of nested tuples crashes CPython's own unpickler when
it hashes them), then unpickled with a ``find_class`` that admits only the callables numpy and
the standard pickler emit for arrays, scalars, dtypes, sets and complex numbers, each wrapped
so its arguments cannot allocate more than the file holds. Anything else is refused by name.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # numpy < 2 (numpy 2 pickles name numpy._core, older ones numpy.core)
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]

_np_reconstruct: Callable[..., Any] = vars(_multiarray)["_reconstruct"]
_np_scalar: Callable[..., Any] = vars(_multiarray)["scalar"]
_np_frombuffer: Callable[..., Any] = vars(_numeric)["_frombuffer"]

PICKLE_MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64  # nesting of containers; the studies' pickles nest four deep
MAX_NODES = 500_000  # values visited when the result becomes plain data (shared ones recount)
MAX_ELEMENTS = 1 << 28  # elements of one array
_MARK = -1
_MUTATORS = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_LATIN1 = frozenset({"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1"})


class Refused(Exception):
    """A pickle that is not unpickled: the reason, and the global it asked for if that was it."""

    def __init__(self, reason: str, asked_for: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.asked_for = asked_for


@dataclass(frozen=True)
class PickleRefused:
    """Why a pickle was not unpickled (errors are values)."""

    reason: str
    asked_for: str | None = None  # "module.name" of a refused global


@dataclass(frozen=True)
class Unpickled:
    """A pickle's content as plain data: dict/list/tuple/set, Python scalars, numpy arrays."""

    value: Any


# --- the scan: structure checked before anything is built -------------------------------------


def scan(data: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Walk the opcodes without building objects; raise :class:`Refused` on what is unsafe.

    The stack is simulated with each entry's nesting depth: a container is one deeper than
    its deepest item. Memo slots must be used in order (CPython sizes its memo table by the
    largest index, so one ``LONG_BINPUT 4294967295`` would ask for 32 GiB).
    """
    stack: list[int] = []
    memo: dict[int, int] = {}
    try:
        for op, arg, _ in pickletools.genops(data):
            _step(op, arg, stack, memo, max_depth)
    except Refused:
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        raise Refused(f"not a well-formed pickle ({exc})") from exc


def _step(
    op: pickletools.OpcodeInfo, arg: Any, stack: list[int], memo: dict[int, int], limit: int
) -> None:
    name = op.name
    if name in _MEMO_PUTS or name == "MEMOIZE":
        index = len(memo) if name == "MEMOIZE" else int(arg)
        if index > len(memo):
            raise Refused(f"memo index {index:,} out of order (a memory bomb)")
        memo[index] = stack[-1]
        return
    if name in _MEMO_GETS:
        stack.append(memo[int(arg)])
        return
    if name == "DUP":
        stack.append(stack[-1])
        return
    if name == "MARK":
        stack.append(_MARK)
        return
    before, after = op.stack_before, op.stack_after
    items: list[int] = []
    if pickletools.markobject in before:
        top = len(stack) - 1 - stack[::-1].index(_MARK)
        items = stack[top + 1 :]
        del stack[top:]
        fixed = before.index(pickletools.markobject)
    else:
        fixed = len(before)
    if fixed:
        if len(stack) < fixed:
            raise Refused("not a well-formed pickle (stack underflow)")
        items = stack[-fixed:] + items
        del stack[-fixed:]
    if not after:
        return
    if name in _MUTATORS:
        depth = max(items[0], 1 + max((d for d in items[1:]), default=-1))
    else:
        depth = 1 + max(items, default=-1)
    if depth > limit:
        raise Refused(f"nested deeper than {limit} levels")
    stack.extend([depth] * len(after))


# --- what find_class admits ---------------------------------------------------------------------


class _CheckedArray(np.ndarray):
    """The ndarray class a pickle gets: its state is checked before numpy allocates it."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _CheckedArray:
        raise Refused("an array may only be rebuilt from its pickled data")

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise Refused("array state of an unknown form")
        shape, dtype, data = state[-4], state[-3], state[-1]
        if not isinstance(dtype, np.dtype):
            raise Refused("array state without a dtype")
        count = _element_count(shape)
        if dtype.hasobject:
            ok = isinstance(data, list) and len(data) == count
        else:
            ok = isinstance(data, bytes | bytearray) and len(data) == count * dtype.itemsize
        if not ok:
            raise Refused("array data does not match its shape and dtype")
        super().__setstate__(state)


def _element_count(shape: Any) -> int:
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise Refused("array shape is not a tuple of sizes")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise Refused(f"array of {count:,} elements, above the limit of {MAX_ELEMENTS:,}")
    return count


def _reconstruct(subtype: Any, shape: Any, code: Any) -> Any:
    # numpy pickles an array as an empty one of shape (0,) whose state then fills it
    if subtype is not _CheckedArray or shape != (0,) or not isinstance(code, bytes | str):
        raise Refused("array reconstruction with unexpected arguments")
    return _np_reconstruct(_CheckedArray, (0,), code)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> Any:
    if not isinstance(buffer, bytes | bytearray) or not isinstance(dtype, np.dtype):
        raise Refused("array from a buffer with unexpected arguments")
    if dtype.hasobject or len(buffer) != _element_count(shape) * dtype.itemsize:
        raise Refused("array buffer does not match its shape and dtype")
    return _np_frombuffer(buffer, dtype, shape, order)


def _scalar(dtype: Any, *obj: Any) -> Any:
    if not isinstance(dtype, np.dtype) or len(obj) != 1:
        raise Refused("numpy scalar with unexpected arguments")
    if not dtype.hasobject and not (isinstance(obj[0], bytes) and len(obj[0]) == dtype.itemsize):
        raise Refused("numpy scalar data does not match its dtype")
    return _np_scalar(dtype, obj[0])


def _latin1_encode(text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    # how protocol 2 stores bytes: the text decoded as Latin-1, encoded back on load
    if not isinstance(text, str) or str(encoding).lower() not in _LATIN1:
        raise Refused("_codecs.encode with an encoding other than Latin-1")
    return text.encode("latin-1")


def _empty_bytes(*args: Any) -> bytes:
    if args:  # bytes(10**12) would allocate: protocol 2 calls bytes() only for b""
        raise Refused("bytes() with arguments")
    return b""


def _iterable_of(kind: Callable[[Any], Any]) -> Callable[..., Any]:
    def build(*args: Any) -> Any:
        if len(args) > 1 or (args and not isinstance(args[0], list | tuple)):
            raise Refused(f"{kind.__name__}() of something other than a list")
        return kind(*args)

    return build


def _complex(*args: Any) -> complex:
    if len(args) > 2 or not all(isinstance(a, int | float) for a in args):
        raise Refused("complex() of something other than two numbers")
    return complex(*args)


_NUMPY_CORE = ("numpy._core.multiarray", "numpy.core.multiarray")
# protocol 0–2 pickles written by Python 2 (or for it) name these modules by their old names
_PYTHON2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): _CheckedArray,
    **{(module, "_reconstruct"): _reconstruct for module in _NUMPY_CORE},
    **{(module, "scalar"): _scalar for module in _NUMPY_CORE},
    **{(m, "_frombuffer"): _frombuffer for m in ("numpy._core.numeric", "numpy.core.numeric")},
    ("_codecs", "encode"): _latin1_encode,
    ("builtins", "set"): _iterable_of(set),
    ("builtins", "frozenset"): _iterable_of(frozenset),
    ("builtins", "complex"): _complex,
    ("builtins", "bytes"): _empty_bytes,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED` globals; any other is :class:`Refused`."""

    def find_class(self, module: str, name: str) -> Any:
        module = _PYTHON2_MODULES.get(module, module)
        found = ALLOWED.get((module, name))
        if found is None:
            raise Refused(
                f"the pickle asks for {module}.{name}, which is not a numpy array, scalar or "
                "dtype or a plain container; it was not unpickled",
                f"{module}.{name}",
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("the pickle refers to an outside object (persistent id)")


# --- the result as plain data -----------------------------------------------------------------


def unpickle(data: bytes, max_depth: int = MAX_DEPTH) -> Unpickled | PickleRefused:
    """The pickle's content as plain data, or why it was refused; never runs its code."""
    if len(data) > PICKLE_MAX_BYTES:
        return PickleRefused(f"{len(data):,} bytes, above the limit of {PICKLE_MAX_BYTES:,}")
    try:
        scan(data, max_depth)
        loaded = RestrictedUnpickler(io.BytesIO(data)).load()
        return Unpickled(plain(loaded, max_depth))
    except Refused as refused:
        return PickleRefused(refused.reason, refused.asked_for)
    except MemoryError:
        return PickleRefused("the pickle needs more memory than is available")
    except Exception as exc:  # an untrusted parser: any failure is this file's, not the build's
        return PickleRefused(f"not a readable pickle ({type(exc).__name__}: {exc})")


def plain(value: Any, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """Numpy scalars as Python ones, arrays as plain ndarrays; depth and size bounded."""
    budget = [max_nodes]

    def convert(node: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise Refused(f"more than {max_nodes:,} values")
        if depth > max_depth:
            raise Refused(f"nested deeper than {max_depth} levels (or containing itself)")
        if isinstance(node, np.ndarray):
            array = node.view(np.ndarray)
            return array if not array.dtype.hasobject else convert(array.tolist(), depth)
        if isinstance(node, np.generic):
            return node.item()
        if isinstance(node, dict):
            return {convert(k, depth + 1): convert(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list | tuple | set | frozenset):
            items = [convert(item, depth + 1) for item in node]
            return items if isinstance(node, list) else type(node)(items)
        return node

    return convert(value, 0)
