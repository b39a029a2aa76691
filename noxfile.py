"""nox sessions: tests, lint, typecheck, bench."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (browser tests need Debian's chromium at /usr/bin/chromium)."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "reportgen", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "reportgen", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install(".[dev]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Build a synthetic tree shaped like the real one and print time and memory ratios."""
    session.install(".")
    session.run("python", "benchmarks/bench.py", *session.posargs)
