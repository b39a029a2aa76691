"""The interface an experiment kind satisfies, built in or a plug-in (a module or any object).

Recognising files (``Recogniser``) needs the standard library only: a no-op build does that and
nothing more. The rest (``ExperimentKind``) loads a claim's files into frozen dataclasses,
analyses them (pure, no I/O), runs the kind's checks and renders its page and twin.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from reportgen.findings import CheckInfo, Finding
    from reportgen.kinds.claims import Claim
    from reportgen.kinds.reading import Read
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext


class Recogniser(Protocol):
    """How a kind finds its files: a cheap name test, a content test on a file's first
    ``SNIFF_BYTES`` bytes, and the claims (one per study) made of the files that passed both."""

    @property
    def KIND(self) -> str: ...

    @property
    def PATTERNS(self) -> tuple[str, ...]: ...

    def matches(self, path: str) -> bool: ...

    def sniff(self, head: bytes) -> bool: ...

    def claims(
        self, paths: Iterable[str], markers: Collection[str] | None = None
    ) -> tuple[Claim, ...]:
        """Claims over ``paths`` (every unclaimed file of the tree); ``markers`` are the ones
        that passed ``matches`` and ``sniff``. A directory kind may claim every path below a
        marker; a file kind claims markers only."""
        ...


class ExperimentKind(Recogniser, Protocol):
    """A kind with a page: ``load`` returns the study or a ``StudyFailure`` (errors are
    values), ``page`` writes ``<page_dir>/index.html`` and ``<page_dir>/summary.json``, whose
    JSON Schema is ``reportgen/schemas/<SCHEMA>`` (or the plug-in's own)."""

    @property
    def SCHEMA(self) -> str: ...

    @property
    def TEMPLATE(self) -> str: ...

    @property
    def CHECKS(self) -> Sequence[CheckInfo]: ...

    def load(self, claim: Claim, read: Read) -> Any: ...

    def analyze(self, study: Any, /) -> Any: ...

    def checks(self, analysis: Any, /) -> tuple[Finding, ...]: ...

    def page(self, analysis: Any, site: SiteContext, page_dir: str | None = None) -> PageOutput: ...
