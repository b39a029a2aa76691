"""nox sessions: fast, tests (per Python), lint, typecheck, floors, bench.

``lint``, ``typecheck`` and ``tests`` run what ``.ci/run`` runs; ``floors`` is its last step.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.options.sessions = ["lint", "typecheck", "fast"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.11", "3.12", "3.13"]
FAST = ("-m", "not slow")


@nox.session
def fast(session: nox.Session) -> None:
    """The quick loop: every test not marked slow (under a minute on two cores)."""
    session.install(".[test]", "pytest-xdist>=3.5")
    session.run("python", "-m", "pytest", *FAST, "-n", "auto", *session.posargs)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite (browser tests need Debian's chromium at /usr/bin/chromium);
    ``nox -s tests-3.13 -- -m "not slow"`` runs the quick selection on one interpreter."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check")
    session.run("ruff", "format", "--check")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict (pyproject) on the package, the tests, the benchmark and this file."""
    session.install(".[dev]")
    session.run("mypy")


def floor_constraints() -> list[str]:
    """``name==X`` for every ``name>=X`` the package and its extras (but dev's tools) require."""
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    pins = []
    for text in [*project["dependencies"], *extras["notebook"], *extras["test"]]:
        requirement = Requirement(text)
        floors = [s.version for s in requirement.specifier if s.operator == ">="]
        if floors:
            pins.append(f"{requirement.name}=={floors[0]}")
    return pins


@nox.session
def floors(session: nox.Session) -> None:
    """The quick selection with every dependency at the lowest version pyproject allows."""
    constraints = Path(session.create_tmp()) / "floors.txt"
    constraints.write_text("\n".join(floor_constraints()) + "\n", encoding="utf-8")
    session.install(".[test]", "-c", str(constraints))
    session.run("python", "-m", "pip", "freeze")
    session.run("python", "-m", "pytest", *FAST, "-p", "no:cacheprovider", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Build a synthetic tree shaped like the real one and print time and memory ratios."""
    session.install(".")
    session.run("python", "benchmarks/bench.py", *session.posargs)
