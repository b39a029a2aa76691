"""Take the 0.1 snapshots again (``tests/snapshots``) with this machine's numpy.

Run with a checkout of 0.1 (``git worktree add ../wt-01 b1976c7``)::

    python tests/tools/snapshot_public_outputs.py ../wt-01

It builds the sample tree and ``../shared/data/results`` with 0.1's code and stores their public
outputs in the form ``tests/public_outputs.py`` gives (this checkout's, not 0.1's).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SHARED = HERE.parent.parent / "shared" / "data" / "results"


def main(old_checkout: Path) -> None:
    sys.path.insert(0, str(old_checkout.resolve()))
    from reportgen.build import BuildOptions, build  # 0.1's
    from reportgen.demo import generate_sample_tree

    spec = importlib.util.spec_from_file_location("public_outputs", HERE / "public_outputs.py")
    assert spec is not None and spec.loader is not None
    outputs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(outputs)
    tmp = Path(tempfile.mkdtemp())
    sample = generate_sample_tree(tmp / "sample" / "results", seed=0)
    for name, tree in (("sample-0.1.json", sample), ("shared-0.1.json", SHARED)):
        out = tmp / name / "site"
        build(BuildOptions(results=tree, out=out, jobs=1))
        data = outputs.public_outputs(out)
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
        (HERE / "snapshots" / name).write_text(text)
        print(name, len(data), "files")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
