"""Where the per-run and per-group work runs: in this process, or in supervised workers.

Workers are forked from a worker server (multiprocessing's forkserver, see ``server.py``),
never from the build itself: the build may have threads, and ``fork()`` of a threaded process
can deadlock (Python 3.12+ warns); the server forks while single-threaded and has the page
code imported already. Each worker holds one job at a time, and results come back in job
order with a bounded window in flight. A worker that dies (the OOM killer, a crash in native
code) costs its job one retry in a fresh worker, then that job's error value from
``on_lost``; the build goes on. Every worker dies with the build: on Linux the kernel kills
the server when the build ends and a worker when the server ends (``PR_SET_PDEATHSIG``), and
an idle worker also ends when its pipe to the build closes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import sys
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

log = logging.getLogger("reportgen")

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

# Jobs handed out ahead of the one being written, per worker: enough to keep every worker
# busy, few enough that finished outputs waiting for their turn stay few.
WINDOW_PER_WORKER = 2
# Starting the worker server costs about as much as rendering this many average pages here.
SERVER_START_PAGES = 10
RETRIES = 1  # a job whose worker died is tried once more in a fresh worker
READY = "ready"  # a worker's first message: its initializer ran
_END = object()
J = TypeVar("J")
R = TypeVar("R")


SERVER_PRELOAD = ["reportgen.build.server"]


def worker_context() -> Any:
    """Workers forked from the worker server where there is one (POSIX), spawned elsewhere."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(SERVER_PRELOAD)
    return context


def start_server() -> None:
    """Start the worker server now, so that it imports the page code while this process is
    busy with other work (a no-op where there is none, or once it runs)."""
    context = worker_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        with _without_main_module():
            forkserver.ensure_running()


def stop_server() -> None:
    """Stop the worker server while no worker runs: it holds the page code (~45 MB), and what
    follows renders here; the next pool starts it again. Multiprocessing has no public call
    for this; where its private one is missing, the server stays up."""
    if worker_context().get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if callable(stop):
        stop()


def pool_pays(jobs: int, workers: int) -> bool:
    """Whether ``jobs`` are worth worker processes: more jobs than workers (one job for each
    worker renders as soon here, without forking a worker and sending it the job)."""
    return workers > 1 and jobs > workers


def server_pays(pages: int, workers: int) -> bool:
    """Whether a build that renders ``pages`` pages gains from starting the worker server at
    all: the pages the other workers take off this process outweigh the server's start-up
    (it imports the page code), which costs about ``SERVER_START_PAGES`` pages here."""
    return pool_pays(pages, workers) and pages * (1 - 1 / workers) > SERVER_START_PAGES


def in_process(work: Callable[[J], R], jobs: Iterable[J]) -> Iterator[R]:
    """``work(job)`` for every job here, in order (nothing of this process is changed)."""
    return map(work, jobs)


def in_pool(
    work: Callable[[J], R],
    jobs: Iterable[J],
    workers: int,
    on_lost: Callable[[J, str], R],
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """``work(job)`` for every job in ``workers`` supervised processes, yielded in job order.

    ``work`` and ``initializer`` must be importable functions (they are sent by name);
    ``initializer(*initargs)`` runs once in each worker. A job whose worker died twice, or
    whose ``work`` raised, yields ``on_lost(job, reason)`` instead.
    """
    with _supervisor(work, workers, initializer, initargs) as pool:
        for _, result in pool.run(jobs, on_lost, ordered=True):
            yield result


def in_pool_as_done(
    work: Callable[[J], R],
    jobs: Iterable[J],
    workers: int,
    on_lost: Callable[[J, str], R],
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[tuple[int, R]]:
    """``in_pool``, each result yielded as soon as it is done, with its job's index: a long
    job keeps no other worker waiting for its turn."""
    with _supervisor(work, workers, initializer, initargs) as pool:
        yield from pool.run(jobs, on_lost, ordered=False)


@contextlib.contextmanager
def _supervisor(
    work: Callable[[J], R],
    workers: int,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> Iterator[_Supervisor[J, R]]:
    pool: _Supervisor[J, R] = _Supervisor(pickle.dumps((work, initializer, initargs)), workers)
    try:
        yield pool
    finally:
        pool.close()


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False  # its initializer ran: a death from now on is charged to its job
    job: int | None = None  # the index of the job it holds


class _Supervisor(Generic[J, R]):
    """Hands out jobs, collects results in order, and replaces workers that die."""

    def __init__(self, payload: bytes, size: int) -> None:
        self.context = worker_context()
        self.payload = payload
        self.size = size
        self.workers: list[_Worker] = []
        self.idle_deaths = 0  # deaths before a worker was ready: not any job's fault
        self.waiting: deque[int] = deque()  # indices of jobs to hand out, retries first
        self.jobs: dict[int, J] = {}  # every job taken and not yet answered
        self.attempts: dict[int, int] = {}
        self.done: dict[int, R] = {}

    def run(
        self, jobs: Iterable[J], on_lost: Callable[[J, str], R], ordered: bool
    ) -> Iterator[tuple[int, R]]:
        source = iter(jobs)
        taken = yielded = 0  # jobs taken from ``jobs``; results yielded
        while True:
            for index in self._finished(yielded, ordered):
                yield index, self.done.pop(index)
                yielded += 1
            while taken < yielded + WINDOW_PER_WORKER * self.size:
                job = next(source, _END)
                if job is _END:
                    break
                self.jobs[taken] = job  # type: ignore[assignment]
                self.waiting.append(taken)
                taken += 1
            if not self.jobs:
                return
            self._hand_out()
            if self.idle_deaths > self.size + 2:  # no worker can even start: work here
                yield from self._here(taken, source)
                return
            self._collect(on_lost)
            self._hand_out()  # a worker that answered works on while its result is written

    def _finished(self, yielded: int, ordered: bool) -> list[int]:
        """The done jobs to yield now: every one, or (``ordered``) those next in job order."""
        if not ordered:
            return sorted(self.done)
        following: list[int] = []
        while yielded + len(following) in self.done:
            following.append(yielded + len(following))
        return following

    def _hand_out(self) -> None:
        while self.waiting and self.idle_deaths <= self.size + 2:
            worker = next((w for w in self.workers if w.job is None), None)
            if worker is None:
                if len(self.workers) >= self.size:
                    return
                worker = self._start()
                if worker is None:
                    continue
            index = self.waiting.popleft()
            try:
                worker.conn.send((index, self.jobs[index]))
            except (OSError, ValueError):  # it died before it took the job
                self.waiting.appendleft(index)
                self._bury(worker)
                continue
            worker.job = index

    def _collect(self, on_lost: Callable[[J, str], R]) -> None:
        """Wait until a busy worker answers or dies, and take what it says."""
        from multiprocessing.connection import wait

        busy = [w for w in self.workers if w.job is not None]
        handles: dict[Any, _Worker] = {w.conn: w for w in busy}
        handles |= {w.process.sentinel: w for w in busy}
        ready = {id(handles[h]): handles[h] for h in wait(list(handles))}
        for worker in ready.values():
            index = worker.job
            assert index is not None
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                self._lost(worker, index, on_lost)
                continue
            if message == READY:
                worker.ready = True
                continue
            answered, ok, value = message
            assert answered == index
            worker.job = None
            job = self.jobs.pop(index)
            self.done[index] = value if ok else on_lost(job, str(value))

    def _lost(self, worker: _Worker, index: int, on_lost: Callable[[J, str], R]) -> None:
        """A worker died holding a job: the job is retried, or after the retry gets its error."""
        ready = worker.ready
        reason = self._bury(worker)
        if not ready:
            log.warning("reportgen: %s as it started; another one takes its place", reason)
            self.waiting.appendleft(index)
            return
        self.attempts[index] = self.attempts.get(index, 0) + 1
        if self.attempts[index] > RETRIES:
            log.warning("reportgen: %s again; that page gets an error page", reason)
            self.done[index] = on_lost(self.jobs.pop(index), f"{reason}, twice")
        else:
            log.warning("reportgen: %s; its page is rendered again in a fresh worker", reason)
            self.waiting.appendleft(index)

    def _here(self, taken: int, source: Iterator[J]) -> Iterator[tuple[int, R]]:
        """Every remaining job in this process, in order (no worker could be started)."""
        work, initializer, initargs = pickle.loads(self.payload)
        if initializer is not None:
            initializer(*initargs)
        for index in sorted({*self.jobs, *self.done}):
            done = self.done.pop(index) if index in self.done else work(self.jobs.pop(index))
            yield index, done
        for index, job in enumerate(source, start=taken):
            yield index, work(job)

    def _start(self) -> _Worker | None:
        """A new worker, or ``None`` when no process can be started (out of memory or
        process slots: counted like a worker that died before it was ready)."""
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_serve, args=(child, self.payload), daemon=True)
        try:
            with _without_main_module():
                process.start()
        except OSError as exc:
            log.warning("reportgen: a worker process could not be started (%s)", exc)
            self.idle_deaths += 1
            parent.close()
            child.close()
            return None
        child.close()
        worker = _Worker(process, parent)
        self.workers.append(worker)
        return worker

    def _bury(self, worker: _Worker) -> str:
        """Remove a dead (or dying) worker; why it died, as a page can say it."""
        self.workers.remove(worker)
        if not worker.ready:
            self.idle_deaths += 1
        worker.conn.close()
        worker.process.join(timeout=5)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join()
        return describe_exit(worker.process.exitcode)

    def close(self) -> None:
        """Stop every worker: an idle one is asked to, a busy one (its result is no longer
        wanted: the build was interrupted) is killed."""
        for worker in self.workers:
            if worker.job is None:
                with contextlib.suppress(OSError, ValueError):
                    worker.conn.send(None)
            else:
                worker.process.kill()
            worker.conn.close()
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
        self.workers.clear()


@contextlib.contextmanager
def _without_main_module() -> Iterator[None]:
    """Start a worker without the caller's ``__main__``: a worker runs reportgen's functions
    only, and spawn and forkserver would otherwise run the caller's script again in it (a
    script calling ``build()`` without an ``if __name__ == "__main__"`` guard would build
    again in every worker)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        oom = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{oom}"
    return f"the worker process exited unexpectedly (exit code {code})"


# --- inside a worker -------------------------------------------------------------------------


def _serve(conn: Connection, payload: bytes) -> None:
    """A worker's life: tied to the build, one job at a time until told to stop."""
    from reportgen.lifetime import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the build alone reports it
    work, initializer, initargs = pickle.loads(payload)
    limit_blas()
    if initializer is not None:
        initializer(*initargs)
    try:
        conn.send(READY)
        while _answer(conn, work):
            pass
    except (EOFError, OSError):  # the build is gone (interrupted, or it ended): end quietly
        return


def _answer(conn: Connection, work: Callable[[Any], Any]) -> bool:
    """Take one job, do it and send its result back; ``False`` when told to stop. The job and
    its result are dropped on return, not held while the worker waits for the next one."""
    message = conn.recv()
    if message is None:
        return False
    index, job = message
    del message
    try:
        reply = (index, True, work(job))
    except Exception as exc:  # errors are values; this one is the job's, not the build's
        reply = (index, False, f"{type(exc).__name__}: {exc}"[:400])
    del job  # its inputs (a group's records) let go before its result is pickled
    try:
        conn.send(reply)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        conn.send((index, False, f"result could not be sent back: {exc}"[:400]))
    return True


def limit_blas() -> None:
    """One BLAS thread in this worker from now on: the build runs one worker per core, and
    draws run in threads; BLAS threads on top of them would only compete."""
    import numpy  # noqa: F401  (threadpoolctl limits the libraries already loaded)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def blas_threads_at_most(limit: int) -> contextlib.AbstractContextManager[object]:
    """At most ``limit`` BLAS threads in this process until the block ends, then as before
    (``-j 1`` renders on one core; OpenBLAS would keep a thread per core spinning)."""
    if limit >= (os.cpu_count() or 1):  # no more than BLAS starts by default: nothing to look up
        return contextlib.nullcontext()
    import numpy  # noqa: F401  (threadpoolctl limits the libraries already loaded)
    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController().select(user_api="blas")  # the loaded libraries, scanned once
    if all(info["num_threads"] <= limit for info in blas.info()):
        return contextlib.nullcontext()
    limited: contextlib.AbstractContextManager[object] = blas.limit(limits=limit)
    return limited
