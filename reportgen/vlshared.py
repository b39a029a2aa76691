"""vl-convert children shared by every process of one build: one per core the build may use,
started by the build process and reached by it and its workers over Unix sockets.

A worker that started its own child paid V8's and the Vega bundle's start-up once per worker
and per stage; shared children pay it once per core for the whole build, while the build plans.
Each child listens on a Linux abstract socket named after the build's process id (nothing on
disk; the name is gone with the child) and accepts only processes of its own user. A request
connects to every child at once and is served by the first to greet it (an idle one), so the
children are shared by whoever is converting. When a shared child stops, or none answers, the
request and every later one of that process go to the process's own child (``vlchild``), whose
supervision says why a figure failed; the shared children only ever save work. A child keeps
no answers: so few requests repeat within a build that a cache would hold tens of MB a child
for next to nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import orjson

from reportgen.vlchild import (
    _PACKAGE_ROOT,
    REQUEST_SECONDS,
    ConvertError,
    _convert,
    _read_answer,
    _serve_stream,
    end_child,
    request_body,
)

HELLO = b"\x01"  # a child's greeting when it takes a connection: it is idle and ours
READY_SECONDS = 30.0  # a child that has not bound its socket by then is not waited for
_NAME = "reportgen-vl-{uid}-{pid}-{slot}"
_CHILD = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from reportgen.vlshared import serve_shared; serve_shared({address!r})"
)
_CREDENTIALS = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid
# Vega-Lite compiled and drawn once: V8 and the bundle are loaded before the first figure.
_WARM_SPEC = {"mark": "point", "data": {"values": [{"x": 1}]}, "encoding": {"x": {"field": "x"}}}


class Unavailable(Exception):
    """No shared child can take the request: the caller converts on its own child."""


def supported() -> bool:
    return sys.platform == "linux"  # abstract sockets and SO_PEERCRED


def address(owner: int, slot: int) -> str:
    return "\0" + _NAME.format(uid=os.getuid(), pid=owner, slot=slot)


class SharedClient:
    """Requests to the shared children of the build process ``owner`` (thread-safe: each
    request has its own connections)."""

    def __init__(self, owner: int) -> None:
        self.owner = owner
        self.broken = False  # a child stopped or none answered: this process stops asking
        self._slots: int | None = None

    def request(self, op: str, **arguments: Any) -> bytes:
        if self.broken:
            raise Unavailable
        body = request_body(op, arguments)
        connections = self._connect()
        chosen: socket.socket | None = None
        try:
            chosen = _first_greeting(connections)
            if chosen is None:
                raise Unavailable
            for other in connections:
                if other is not chosen:
                    other.close()  # now: a child that greeted it waits for it to end
            chosen.sendall(body)
            status, payload = _read_answer(chosen.fileno(), REQUEST_SECONDS)
        except TimeoutError:
            self.broken = True
            _stop_peers([chosen] if chosen is not None else connections)
            raise ConvertError(
                f"vl-convert took longer than {REQUEST_SECONDS:.0f} s and was stopped"
            ) from None
        except (Unavailable, OSError, EOFError):
            self.broken = True
            raise Unavailable from None
        finally:
            for connection in connections:
                connection.close()
        if status:
            raise ConvertError(payload.decode("utf-8", "replace"))
        return payload

    def _connect(self) -> list[socket.socket]:
        """A connection to every child that listens (their number learned on first use)."""
        if self._slots is None:
            slot = 0
            while (connection := _connect(self.owner, slot)) is not None:
                connection.close()
                slot += 1
            self._slots = slot
        found = [_connect(self.owner, slot) for slot in range(self._slots)]
        return [connection for connection in found if connection is not None]


def _connect(owner: int, slot: int) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(address(owner, slot))
        if _peer(connection)[1] == os.getuid():
            return connection
    except OSError:
        pass
    connection.close()
    return None


def _peer(connection: socket.socket) -> tuple[int, int]:
    """The process id and user id at the other end of a Unix socket."""
    pid, uid, _ = _CREDENTIALS.unpack(
        connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    )
    return pid, uid


def _first_greeting(connections: list[socket.socket]) -> socket.socket | None:
    """The connection whose child greets first (it is idle); None if every child stops."""
    waiting = list(connections)
    deadline = time.monotonic() + REQUEST_SECONDS
    while waiting:
        remaining = deadline - time.monotonic()
        readable = select.select(waiting, [], [], max(remaining, 0.0))[0]
        if not readable:
            raise TimeoutError
        for connection in readable:
            if connection.recv(1) == HELLO:
                return connection
            waiting.remove(connection)  # that child stopped
    return None


def _stop_peers(connections: list[socket.socket]) -> None:
    """Kill the children that held a request past its time (they cannot take another)."""
    for connection in connections:
        try:
            pid, uid = _peer(connection)
            if uid == os.getuid():
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --- the build process: starting and ending the children -------------------------------------

_owned: tuple[int, SharedClient] | None = None  # (this process, its client) while children run
_found: dict[int, SharedClient] = {}  # a worker's client of its build's children


def client() -> SharedClient | None:
    """The client of this build's shared children: this process's own, or those of the build
    process that started this worker; None where there are none."""
    if not supported():
        return None
    if _owned is not None and _owned[0] == os.getpid():
        return _owned[1]
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return None
    return _found.setdefault(parent.pid, SharedClient(parent.pid))


@contextmanager
def shared_children(count: int) -> Iterator[None]:
    """``count`` shared vl-convert children for as long as the block runs (started from the
    calling thread: they die with it, and with this process)."""
    global _owned
    if not supported() or count < 1 or _owned is not None:
        yield
        return
    import subprocess

    pid = os.getpid()
    command = [sys.executable, "-c", ""]
    children = []
    for slot in range(count):
        command[2] = _CHILD.format(root=_PACKAGE_ROOT, address=address(pid, slot))
        children.append(
            subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # a V8 crash report; a figure's own child says why
                close_fds=True,
            )
        )
    try:
        _wait_bound(children)
        _owned = (pid, SharedClient(pid))
        yield
    finally:
        _owned = None
        for child in children:
            end_child(child)


def _wait_bound(children: list[Any]) -> None:
    """Until every child has bound its socket (or stopped): a worker then finds them all."""
    deadline = time.monotonic() + READY_SECONDS
    waiting = [child.stdout for child in children]
    while waiting and (remaining := deadline - time.monotonic()) > 0:
        for stream in select.select(waiting, [], [], remaining)[0]:
            os.read(stream.fileno(), 1)  # the greeting, or the end of a child that stopped
            waiting.remove(stream)


# --- the child -------------------------------------------------------------------------------


def serve_shared(name: str) -> None:
    """A shared child: bind, say so, load V8 and Vega, then serve one connection at a time
    until the build closes stdin."""
    from reportgen.vlchild import _child_setup

    ready = _child_setup()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(name)
    except OSError:
        return  # the name is taken: clients find no child of ours and use their own
    listener.listen(64)
    ready.write(HELLO)
    ready.close()
    import vl_convert

    vl_convert.vegalite_to_svg(_WARM_SPEC)
    answer = partial(_answer, vl_convert)
    while True:
        readable = select.select([listener, sys.stdin], [], [])[0]
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1):
            return
        if listener in readable:
            connection = listener.accept()[0]
            with connection:
                _serve_connection(connection, answer)


def _serve_connection(connection: socket.socket, answer: Callable[[bytes], bytes]) -> None:
    try:
        if _peer(connection)[1] != os.getuid():
            return
        connection.sendall(HELLO)
        with connection.makefile("rb") as requests, connection.makefile("wb") as answers:
            _serve_stream(requests, answers, answer)
    except OSError:
        pass  # the client went away (it took another child)


def _answer(vl_convert: Any, body: bytes) -> bytes:
    return _convert(vl_convert, orjson.loads(body))
