"""The layout the README describes: stages import downwards only, and nothing imports in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import reportgen

PACKAGE = Path(reportgen.__file__).parent
STAGE_PACKAGES = ("reportgen.pages", "reportgen.charts", "reportgen.analysis")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every reportgen module ``path`` imports, at the top or inside functions (not for types)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("reportgen")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reportgen"):
            module = str(node.module)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
    return found & MODULES.keys()


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each as the path that closes it (depth-first search)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_module_imports_in_a_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_pages_charts_and_analysis_never_import_the_orchestrator() -> None:
    offenders = {
        name: sorted(GRAPH[name] & {"reportgen.build", "reportgen.cli"})
        for name in GRAPH
        if name.startswith(STAGE_PACKAGES)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_analysis_does_no_io() -> None:
    """analysis/ is pure numpy: no file access, no module-level mutable caches of its own."""
    for name, path in MODULES.items():
        if name.startswith("reportgen.analysis"):
            text = path.read_text(encoding="utf-8")
            for forbidden in ("open(", "read_bytes(", "write_bytes(", "Path(__file__)"):
                assert forbidden not in text, f"{name} uses {forbidden}"


def test_no_module_is_a_grab_bag() -> None:
    """No module much over 600 lines: a longer one is split by responsibility."""
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 650
    }
    assert long == {}


UNPICKLERS = {"pickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib", "torch"}


def unpickling_of(source: str) -> list[str]:
    """What in ``source`` could unpickle: an unpickling module imported, ``read_pickle``, or an
    ``np.load`` without a literal ``allow_pickle=False``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNPICKLERS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNPICKLERS:
            found.append(str(node.module))
        elif isinstance(node, ast.Attribute) and node.attr == "read_pickle":
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("np.load"):
            refused = [k for k in node.keywords if k.arg == "allow_pickle"]
            if not refused or ast.unparse(refused[0].value) != "False":
                found.append(ast.unparse(node))
    return found


def test_no_kind_unpickles_except_through_safe_pickle() -> None:
    """A kind reads tree files; only the restricted unpickler may turn a pickle into objects."""
    offenders = {
        name: found
        for name, path in MODULES.items()
        if name.startswith("reportgen.kinds.") and name != "reportgen.kinds.safe_pickle"
        if (found := unpickling_of(path.read_text(encoding="utf-8")))
    }
    assert not offenders
    convergence = MODULES["reportgen.kinds.rb_convergence.loader"]
    assert "reportgen.kinds.safe_pickle" in imports_of(convergence)


def test_the_unpickling_check_finds_each_way_in() -> None:
    source = (
        "import pickle\nfrom joblib import load\nimport numpy as np\n"
        "np.load(f)\nnp.load(f, allow_pickle=True)\nnp.load(f, allow_pickle=False)\n"
        "pd.read_pickle(f)\n"
    )
    assert unpickling_of(source) == [
        "pickle", "joblib", "np.load(f)", "np.load(f, allow_pickle=True)", "pd.read_pickle",
    ]  # fmt: skip
