"""The README's option tables, generated from ``reportgen/settings.py``.

    python tests/tools/options_table.py          # rewrite the tables in README.md
    python tests/tools/options_table.py --check  # exit 1 if they differ from the schema

Each table sits between ``<!-- options:COMMAND -->`` and ``<!-- /options -->``;
``tests/test_settings.py`` fails when a table and the schema disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reportgen.settings import (  # noqa: E402
    COMMANDS,
    default_text,
    options,
    range_text,
    sectioned,
    spec,
)

README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- options:([\w-]+) -->\n)(.*?)(<!-- /options -->)", re.DOTALL)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(block: str) -> str:
    """One row per option of the command ``block`` names (``demo-only``: those ``build`` lacks):
    flags, values, default, environment variable and tree-file key."""
    command, _, only = block.partition("-")
    shared = {f.name for f in options(COMMANDS["build"])} if only else set()
    rows = [
        "| option | values | default | env / tree file | what |",
        "|---|---|---|---|---|",
    ]
    for item in [f for f in sectioned(COMMANDS[command]) if f.name not in shared]:
        found = spec(item)
        flags = ", ".join(f"`{f}`" for f in found.flags if f.startswith("-")) or (
            f"`{found.metavar}`"
        )
        if found.metavar and found.flags[0].startswith("-") and found.kind != "choice":
            flags += f" {found.metavar}"
        values = {
            "flag": "flag",
            "count": "repeatable flag",
            "choice": ", ".join(found.choices),
            "list": "comma-separated: " + ", ".join(found.choices),
            "path": "directory",
            "text": "text",
        }.get(found.kind, range_text(found) or found.kind)
        where = "; ".join(f"`{name}`" for name in (found.env, found.key) if name)
        cells = (flags, values, default_text(item), where, found.help)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def render(readme: str) -> str:
    """``readme`` with every options block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + table(m.group(2)) + m.group(4), readme)


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    wanted = render(text)
    if "--check" in argv:
        return 0 if wanted == text else 1
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
