"""Where every page and data file of the site lives (relative to the site root)."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import PurePosixPath

from reportgen.pages.render import Crumb

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIX = re.compile(r"(.*?)(\.[A-Za-z0-9]{1,8})?$", re.DOTALL)


def slug_part(part: str) -> str:
    """A file-system- and URL-safe name; a short hash keeps distinct names distinct."""
    safe = _UNSAFE.sub("_", part).strip("._") or "_"
    if safe != part:
        # The hash goes before a file's suffix: a copied file must keep its type (an image
        # without ".png" may be sniffed, and run, as HTML when opened from disk).
        stem, suffix = _SUFFIX.match(safe).groups()  # type: ignore[union-attr]
        safe = f"{stem[:60]}-{hashlib.sha256(part.encode()).hexdigest()[:8]}{suffix or ''}"
    return safe


# What a run's directory holds: no directory of a nested run (or group) may take these names,
# or a run inside ``run_01/summary.json/`` would want the path of run_01's summary file (and
# one inside ``run_01/figures/`` the path of a figure). Compared case-insensitively: on macOS
# and Windows ``Index.html/`` and ``index.html`` are one path. The names of private files are
# listed too: they were once a run's own directory, and a published path never changes.
RUN_DIR_NAMES = frozenset(
    {
        "index.html",
        "summary.json",
        "contributions.csv",
        "files",
        "figures",
        "sample.npy",
        "page.json",
        "record.json",
        "record.json.z",
        "partials.json.z",
    }
)


def slug(path: str) -> str:
    """A run or group id as a directory path; names a run directory holds are renamed."""
    return "/".join(_dir_part(p) for p in path.split("/") if p)


@lru_cache(maxsize=4096)  # a tree's directory names repeat (run_01, E_16, …) across its runs
def _dir_part(part: str) -> str:
    safe = slug_part(part)
    if safe.casefold() not in RUN_DIR_NAMES:
        return safe
    # no suffix: a directory called "index-….html" would pass for a page
    return f"{safe.replace('.', '_')}-{hashlib.sha256(part.encode()).hexdigest()[:8]}"


def run_dir(run_id: str) -> str:
    return f"runs/{slug(run_id)}"


def run_page(run_id: str) -> str:
    return f"{run_dir(run_id)}/index.html"


def run_summary(run_id: str) -> str:
    return f"{run_dir(run_id)}/summary.json"


def run_contributions(run_id: str) -> str:
    return f"{run_dir(run_id)}/contributions.csv"


def private_file(kind: str, item_id: str, name: str) -> str:
    """A private file of one run or group: ``.reportgen/<kind>/<parent>/<item>~<name>``.

    Flat in its parent's directory rather than in a directory of its own: directories are what
    a one-change rebuild pays for (each is made in the staging site and removed with the old
    one, about 1 ms each on ext4), files are cheap hard links. ``~`` never occurs in a slug, so
    no directory of a nested run or group can take a private file's name.
    """
    head, _, tail = slug(item_id).rpartition("/")
    return f".reportgen/{kind}/{head + '/' if head else ''}{tail}~{name}"


def run_sample(run_id: str) -> str:
    """Per-sequence arrays kept for cross-run subsampling (plain .npy, no pickles)."""
    return private_file("runs", run_id, "sample.npy")


def run_record(run_id: str) -> str:
    """The run's ``RunRecord`` as JSON: what later builds' cross-run pages read of it."""
    return private_file("runs", run_id, "record.json")


def run_fragment(run_id: str) -> str:
    """A stale run's last good page content, kept so the next stale build can show it again (a
    good run's page holds it: the status records where)."""
    return private_file("runs", run_id, "page.json")


def group_dir(group_id: str) -> str:
    return f"groups/{slug(group_id)}"


def group_page(group_id: str) -> str:
    return f"{group_dir(group_id)}/index.html"


def group_summary(group_id: str) -> str:
    return f"{group_dir(group_id)}/summary.json"


def group_differs(group_id: str) -> str:
    """Every configuration key whose value differs between the group's runs, run by run."""
    return f"{group_dir(group_id)}/what_differs.csv"


def group_record(group_id: str) -> str:
    """The group's ``GroupRecord`` (all but its partials): what its summary is made from."""
    return private_file("groups", group_id, "record.json.z")


def group_partials(group_id: str) -> str:
    """The partials of the group's record: what its parent merges."""
    return private_file("groups", group_id, "partials.json.z")


def tree_crumbs(item_id: str, group_levels: int | None = None) -> tuple[Crumb, ...]:
    """Index › each enclosing group › the run or group itself.

    ``group_levels`` leading parts of the id are groups (for a group: every part but its own);
    the rest names the item, in one crumb.
    """
    parts = PurePosixPath(item_id).parts or (item_id,)
    levels = len(parts) - 1 if group_levels is None else max(0, min(group_levels, len(parts) - 1))
    groups = tuple(
        Crumb(parts[i - 1], group_page("/".join(parts[:i]))) for i in range(1, levels + 1)
    )
    return (Crumb("Index", "index.html"), *groups, Crumb("/".join(parts[levels:]), None))


def run_crumbs(run_id: str, directory: str) -> tuple[Crumb, ...]:
    """A run's crumbs: the groups are the directories above the run's own directory (a
    ``*_results.json`` file's directory is a run directory, not a group)."""
    levels = len(PurePosixPath(directory).parts) - 1 if directory not in ("", ".") else 0
    return tree_crumbs(run_id, levels)
