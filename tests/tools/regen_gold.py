"""Write the gold pages of ``tests/test_gold.py`` again, with this checkout and these libraries.

    python tests/tools/regen_gold.py

Builds the tiny tree, scrubs its gold pages into ``tests/gold`` and records the library versions
there. Review ``git diff tests/gold`` before committing: every changed line should be one you
meant to change.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.goldtest import build_tiny_site, write_gold  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reportgen-gold-") as work:
        for path in write_gold(build_tiny_site(Path(work))):
            print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
