"""``--single-file`` for a group: its page as one self-contained HTML file, links that would
lead out of the file turned into plain text (a lone file has no other pages to link to)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.discover import GroupRef, RunRef, Tree
from reportgen.settings import BuildOptions

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord
    from reportgen.pages.output import PageOutput

# an <a> tag's href that is neither a fragment of this page nor a data: URI
_OUTWARD_HREF = re.compile(r'(<a\b[^>]*?)\shref="(?!#|data:)[^"]*"')


def without_outward_links(html: bytes) -> bytes:
    """Every link to another page or file becomes plain text (its ``<a>`` loses the href);
    links within the page stay."""
    return _OUTWARD_HREF.sub(lambda m: m.group(1), html.decode()).encode()


def staging_dir(out: Path) -> Path:
    """The run samples the group page reads, kept beside the output file while it is made."""
    return out.parent / f".{out.name}.reportgen-staging"


RunOutput = Callable[[RunRef], "PageOutput"]
"""A run's page output (its record and sample), as the build makes it."""
GroupRenderer = Callable[[Mapping[str, "RunRecord"], Path, Mapping[str, str | None]], bytes]
"""The group's page from its runs' records, the directory holding their samples and the
samples' digests (a sample is read only with its digest)."""


def group_file(
    options: BuildOptions, tree: Tree, group: GroupRef, run_output: RunOutput, render: GroupRenderer
) -> tuple[bytes, list[str]]:
    """The group's page with outward links as text, and the ids of its runs that failed."""
    from reportgen.pages import paths, serialize

    members = set(group.run_ids)
    staging = staging_dir(options.out)
    records: dict[str, RunRecord] = {}
    digests: dict[str, str | None] = {}
    failed: list[str] = []
    try:
        for ref in (r for r in tree.runs if r.id in members):
            output = run_output(ref)
            sample = paths.run_sample(ref.id)
            if sample in dict(output.files):
                (staging / sample).parent.mkdir(parents=True, exist_ok=True)
                (staging / sample).write_bytes(output.content(sample))
                digests[ref.id] = serialize.sample_digest(output.content(sample), ref.id)
            if output.record is not None:
                records[ref.id] = output.record
            if not output.ok:
                failed.append(ref.id)
        page = render(records, staging, digests)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return without_outward_links(page), failed
