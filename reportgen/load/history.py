"""When each results file entered version control: one ``git log`` for the whole tree.

Where the results tree lies inside a git work tree, a run page shows its results file's first
commit (date and short hash). Absent git, a tree outside any repository, a refusal (e.g. git's
``safe.directory``) or a slow repository all mean "no dates", never an error. git runs with
the settings that could start other programs turned off (signature checks, fsmonitor, hooks),
reads only, and is asked once per build that renders runs (never by an up-to-date build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 20.0
_MARK = b"\x01"
_SAFE_CONFIG = (
    "core.fsmonitor=false",
    "log.showSignature=false",
    "core.hooksPath=/dev/null",
    "gpg.program=false",
)


@dataclass(frozen=True)
class FirstCommit:
    """The commit that first added a file: its committer date (YYYY-MM-DD) and short hash."""

    date: str
    commit: str


def git_command(git: str, root: Path) -> list[str]:
    config = [arg for item in _SAFE_CONFIG for arg in ("-c", item)]
    return [
        git, "--no-pager", *config, "-C", str(root), "log", "--no-show-signature",
        "--no-renames", "--diff-filter=A", "--reverse", f"--format={_MARK.decode()}%h %cs",
        "-z", "--name-only", "--relative", "--", ".",
    ]  # fmt: skip


def parse_log(output: bytes) -> dict[str, FirstCommit]:
    """``git log -z --name-only`` output → path → the first (oldest) commit that added it."""
    found: dict[str, FirstCommit] = {}
    for chunk in output.split(_MARK)[1:]:
        header, _, names = chunk.partition(b"\0")
        commit, _, date = header.decode("ascii", "replace").partition(" ")
        for raw in names.removeprefix(b"\n").split(b"\0"):
            name = raw.decode("utf-8", "replace")
            if name and name not in found:  # oldest first (--reverse): keep the first add
                found[name] = FirstCommit(date.strip(), commit.strip())
    return found


def first_commits(root: Path) -> dict[str, FirstCommit]:
    """Every file below ``root`` that git knows, by path relative to ``root``; ``{}`` when the
    tree is not in a git work tree or git is missing, fails or takes too long."""
    git = shutil.which("git")
    if git is None:
        return {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            git_command(git, root),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_log(done.stdout) if done.returncode == 0 else {}
