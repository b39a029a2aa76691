"""``--single-file``: a page as one self-contained HTML file, its links that would lead out of
the file turned into plain text (a lone file has no other pages to link to)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from reportgen.write import WriteError, check_output_dir

if TYPE_CHECKING:
    from reportgen.discover import Tree
    from reportgen.pages.render import SiteContext
    from reportgen.settings import BuildOptions

# an <a> tag's href that is neither a fragment of this page nor a data: URI
_OUTWARD_HREF = re.compile(r'(<a\b[^>]*?)\shref="(?!#|data:)[^"]*"')


def without_outward_links(html: bytes) -> bytes:
    """Every link to another page or file becomes plain text (its ``<a>`` loses the href);
    links within the page stay."""
    return _OUTWARD_HREF.sub(lambda m: m.group(1), html.decode()).encode()


# --- a study's page --------------------------------------------------------------------------


def single_study_page(
    options: BuildOptions, tree: Tree, known_runs: str, site: SiteContext
) -> tuple[bytes, bool]:
    """The page of the study ``options.single_file`` names (``<kind>:<directory>``, as ``check``
    prints it), self-contained (``site`` inlines the assets), and whether it rendered without
    error; no study of that id, or one that has no page tonight, is a ``WriteError``."""
    from reportgen.build.studies import study_stage
    from reportgen.build.study_jobs import StudyJob, study_output

    stage = study_stage(tree, (), options.results, None, reuse=False)
    plan = next((p for p in stage.plans if p.id == options.single_file), None)
    if plan is None:
        studies = ", ".join(p.id for p in stage.plans[:3])
        also = f"; studies look like: {studies}" if studies else ""
        raise WriteError(
            f"no run or study with id {options.single_file!r} (runs look like: {known_runs}{also})"
        )
    check_single_output(options)
    registered = plan.registered
    job = StudyJob(
        registered.name,
        registered.origin,
        plan.claim,
        options.results,
        site,
        options.max_bytes,
        options.verbose,
    )
    result = study_output(registered, job)
    if result.output is None or result.row["page"] is None:
        raise WriteError(f"the study {plan.id} has no page: {result.row['error']}")
    return without_outward_links(result.output.content(result.row["page"])), result.ok


def check_single_output(options: BuildOptions) -> None:
    """One file is written: not over a directory, nor inside the results tree."""
    if options.out.is_dir():
        raise WriteError(
            f"{options.out} is a directory; --single-file writes one file (e.g. -o report.html)"
        )
    check_output_dir(options.out, options.results, force=True)
