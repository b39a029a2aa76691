"""vl-convert in a child process: its JavaScript runtime (V8) can abort the whole process (under
an address-space limit it stops with SIGTRAP, printing a C stack trace), and then the caller
loses one figure or the Vega bundle, never the build.

The parent sends length-prefixed JSON requests on the child's stdin and reads length-prefixed
answers from a pipe; the child's stderr (V8's crash report) goes to a private file, from which
the reason is taken. A child that crashed is replaced for the next request; after
``MAX_CRASHES`` crashes in a row no new child is started for the rest of the process. The
child dies with its parent (``PR_SET_PDEATHSIG`` on Linux; everywhere when its stdin closes).
"""

from __future__ import annotations

import os
import re
import select
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import orjson

MAX_CRASHES = 2
REQUEST_SECONDS = 600.0  # one figure of a huge chart takes seconds; a hung runtime ends here
_HEADER = struct.Struct("!BQ")  # status (0 ok, 1 error) and payload length
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD = "import sys; sys.path.insert(0, {root!r}); from reportgen.vlchild import serve; serve()"
_REPORT_LINE = re.compile(r"(Fatal[^\n]*|[A-Za-z]*Error[^\n]*)")


class ConvertError(Exception):
    """vl-convert refused the request, or its process stopped (the message says which)."""


class Converter:
    """A client of one vl-convert child process, started on the first request."""

    def __init__(self) -> None:
        self._process: Any = None
        self._stderr: IO[bytes] | None = None
        self._crashes = 0
        self._last_crash = ""

    def request(self, op: str, **arguments: Any) -> bytes:
        """The bytes vl-convert returns for ``op`` (``svg``, ``png``, ``pdf``, ``bundle``, and
        ``svg_to_png``/``svg_to_pdf`` of an ``svg``)."""
        if self._crashes >= MAX_CRASHES:
            raise ConvertError(f"not tried: {self._last_crash}")
        process = self._process or self._start()
        try:
            process.stdin.write(request_body(op, arguments))
            process.stdin.flush()
            status, payload = _read_answer(process.stdout.fileno(), REQUEST_SECONDS)
        except (OSError, EOFError, TimeoutError) as exc:
            reason = self._crashed(exc)
            raise ConvertError(reason) from None
        self._crashes = 0
        if status:
            raise ConvertError(payload.decode("utf-8", "replace"))
        return payload

    def start(self) -> None:
        """Start the child now, from the calling thread, or again if it has stopped: the kernel
        ends a child when the thread that started it ends (``PR_SET_PDEATHSIG``), so a child
        that outlives a pool of threads must be started outside them."""
        if self._process is not None and self._process.poll() is not None:
            self.close()
        if self._process is None:
            self._start()

    def _start(self) -> Any:
        import subprocess
        import tempfile

        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the child)
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD.format(root=_PACKAGE_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            close_fds=True,
        )
        return self._process

    def _crashed(self, exc: BaseException) -> str:
        """Stop the child (if it still runs) and say why it stopped."""
        process, self._process = self._process, None
        if isinstance(exc, TimeoutError):
            process.kill()
        process.wait()
        report = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            text = self._stderr.read(64 * 1024).decode("utf-8", "replace")
            self._stderr.close()
            self._stderr = None
            found = _REPORT_LINE.search(text)
            report = f": {found.group(1).strip()[:200]}" if found else ""
        if isinstance(exc, TimeoutError):
            reason = f"vl-convert took longer than {REQUEST_SECONDS:.0f} s and was stopped"
        else:
            reason = f"vl-convert's process stopped ({_describe(process.returncode)}){report}"
        self._crashes += 1
        self._last_crash = reason
        return reason

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            end_child(process)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Converter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request_body(op: str, arguments: dict[str, Any]) -> bytes:
    """A request as the child reads it: its length, then its JSON."""
    body = orjson.dumps({"op": op, **arguments}, option=orjson.OPT_SERIALIZE_NUMPY)
    return struct.pack("!Q", len(body)) + body


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _read_answer(fd: int, seconds: float) -> tuple[int, bytes]:
    deadline = time.monotonic() + seconds
    status, length = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    return status, _read_exactly(fd, length, deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


# --- the child -------------------------------------------------------------------------------


def serve() -> None:
    """The child's loop: one request at a time from stdin until it closes."""
    answers = _child_setup()
    import vl_convert

    _serve_stream(sys.stdin.buffer, answers, lambda body: _convert(vl_convert, orjson.loads(body)))


def _child_setup() -> IO[bytes]:
    """Die with the parent, leave no core file, and keep stray output out of the answers (the
    stream answers are written to)."""
    from reportgen.lifetime import die_with_parent

    die_with_parent()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a V8 abort leaves no core file
    except (ImportError, ValueError, OSError):
        pass
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to the private stderr, never into the answers
    return answers


def _serve_stream(
    requests: IO[bytes], answers: IO[bytes], answer: Callable[[bytes], bytes]
) -> None:
    """Answer length-prefixed requests from ``requests`` until it ends (``answer`` of a
    request's JSON)."""
    while header := requests.read(8):
        if len(header) < 8:
            return
        (length,) = struct.unpack("!Q", header)
        body = requests.read(length)
        try:
            status, payload = 0, answer(body)
        except Exception as exc:  # vl-convert raises plain ValueError/RuntimeError
            status, payload = 1, f"{type(exc).__name__}: {str(exc)[:300]}".encode()
        answers.write(_HEADER.pack(status, len(payload)) + payload)
        answers.flush()


def end_child(child: Any) -> None:
    """Ask a child to end (its stdin closed), and kill it if it has not within 10 s."""
    child.stdin.close()
    try:
        child.wait(timeout=10)
    except Exception:
        child.kill()
        child.wait()
    child.stdout.close()


def _convert(vl_convert: Any, request: dict[str, Any]) -> bytes:
    op = request["op"]
    if op == "bundle":
        return str(vl_convert.javascript_bundle()).encode()
    if op == "svg_to_png":  # a figure's other formats are drawn from its one SVG
        return bytes(
            vl_convert.svg_to_png(request["svg"], scale=request["scale"], ppi=request["ppi"])
        )
    if op == "svg_to_pdf":
        return bytes(vl_convert.svg_to_pdf(request["svg"]))
    spec = request["spec"]
    if op == "svg":
        return str(vl_convert.vegalite_to_svg(spec)).encode()
    if op == "png":
        return bytes(vl_convert.vegalite_to_png(spec, scale=request["scale"], ppi=request["ppi"]))
    if op == "pdf":
        to_pdf = getattr(vl_convert, "vegalite_to_pdf", None)
        if to_pdf is None:
            raise RuntimeError("this vl-convert has no PDF export (needs vl-convert ≥ 1.0)")
        return bytes(to_pdf(spec))
    raise ValueError(f"unknown request {op!r}")
