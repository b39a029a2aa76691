"""The interfaces of experiment kinds: study kinds, built in or a plug-in (a module or any
object), and the run schemas.

Recognising files (``Recogniser``) needs the standard library only: a no-op build does that and
nothing more. The rest (``ExperimentKind``) loads a claim's files into frozen dataclasses,
analyses them (pure, no I/O), runs the kind's checks and renders its page and twin. A run schema
(``RunKind``) names its files the same way; discovery makes its runs, and the run stage loads
each with the kind its results object has, analyses it with the build's settings and turns it
into a record and a page shared by every run schema.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from reportgen.analysis import RunAnalysis
    from reportgen.discover import RunRef
    from reportgen.findings import CheckInfo, Finding
    from reportgen.kinds.claims import Claim
    from reportgen.kinds.reading import Read
    from reportgen.load import ResultsFile
    from reportgen.load.models import LoadFailure, Run
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext


class FileTest(Protocol):
    """A kind's name and its tests of a file: a cheap name test and a content test on the
    file's first ``SNIFF_BYTES`` bytes."""

    @property
    def KIND(self) -> str: ...

    @property
    def PATTERNS(self) -> tuple[str, ...]: ...

    def matches(self, path: str) -> bool: ...

    def sniff(self, head: bytes) -> bool: ...


class Recogniser(FileTest, Protocol):
    """How a study kind finds its files: the file tests, and the claims (one per study) made of
    the files that passed both."""

    def claims(
        self, paths: Iterable[str], markers: Collection[str] | None = None
    ) -> tuple[Claim, ...]:
        """Claims over ``paths`` (every unclaimed file of the tree); ``markers`` are the ones
        that passed ``matches`` and ``sniff``. A directory kind may claim every path below a
        marker; a file kind claims markers only."""
        ...


class Published(Protocol):
    """What a kind's pages publish: the JSON Schema of their twin, their template, their
    checks (entries of the check registry)."""

    @property
    def SCHEMA(self) -> str: ...

    @property
    def TEMPLATE(self) -> str: ...

    @property
    def CHECKS(self) -> Sequence[CheckInfo]: ...


class StudySettings(Protocol):
    """What a study kind's analysis may take of the build's settings."""

    @property
    def equivalence_margin(self) -> float: ...


class ExperimentKind(Recogniser, Published, Protocol):
    """A kind with a page: ``load`` returns the study or a ``StudyFailure`` (errors are
    values), ``page`` writes ``<page_dir>/index.html`` and ``<page_dir>/summary.json``, whose
    JSON Schema is ``reportgen/schemas/<SCHEMA>`` (or the plug-in's own). A kind that sets
    ``TAKES_SETTINGS = True`` is analysed as ``analyze(study, settings)`` (``StudySettings``:
    the margin its equivalence statements state), any other as ``analyze(study)``."""

    def load(self, claim: Claim, read: Read) -> Any: ...

    def analyze(self, study: Any, /) -> Any: ...

    def checks(self, analysis: Any, /) -> tuple[Finding, ...]: ...

    def page(self, analysis: Any, site: SiteContext, page_dir: str | None = None) -> PageOutput: ...


def analyze_study(kind: ExperimentKind, study: Any, settings: StudySettings) -> Any:
    """``kind``'s analysis of ``study``, with the build's ``settings`` where it takes them."""
    if getattr(kind, "TAKES_SETTINGS", False):
        return kind.analyze(study, settings)  # type: ignore[call-arg]
    return kind.analyze(study)


class AnalysisSettings(Protocol):
    """What reading and analysing a run takes (the build's run settings, or the API's)."""

    @property
    def max_bytes(self) -> int: ...
    @property
    def bootstrap(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def equivalence_margin(self) -> float: ...


class RunKind(FileTest, Published, Protocol):
    """A run schema: ``load`` turns a run whose results object has this schema (read once, by
    ``reportgen.load.read_results``) into a ``Run``, or a ``LoadFailure`` (errors are values);
    ``analyze`` takes the build's settings (bootstrap, seed, margin). Unlike a study kind it
    makes no claims (discovery makes the runs) and no page of its own: every run becomes a
    ``RunRecord`` and the run page, whose twin's JSON Schema is ``reportgen/schemas/<SCHEMA>``,
    and is carried over or kept stale by the run stage."""

    def load(
        self, ref: RunRef, root: Path, max_bytes: int, results: ResultsFile
    ) -> Run | LoadFailure: ...

    def analyze(self, run: Run, settings: AnalysisSettings) -> RunAnalysis: ...
