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


# --- the output directory is the writer's -------------------------------------------------------

# The only modules that open files under the output directory: the writer, and the status file
# (read before anything is written, rewritten in place by an up-to-date build).
# status.py opens the tree's inputs to hash them; status_file.py reads and writes the status
OUTPUT_OWNERS = frozenset(
    {"reportgen.write", "reportgen.build.status", "reportgen.build.status_file"}
)
# A SiteWriter's own handles on the staged and previous sites; nothing else may reach for them.
WRITER_STATE = frozenset({"_staging", "_previous"})
# Calls that open, list or map files.
FILE_CALLS = frozenset(
    {"open", "read_bytes", "read_text", "write_bytes", "write_text", "iterdir", "glob", "rglob"}
)
# Stage modules that read files outside the output directory, and which.
READS_ELSEWHERE = {
    "reportgen.pages.assets": "templates, static assets and the per-install Vega bundle",
    "reportgen.pages.render": "compiled templates of the per-install cache",
    "reportgen.charts.spec_cache": "built chart specs of the per-install cache, keyed by source",
}


def file_access(path: Path) -> set[str]:
    """Attribute names of the writer's state used, and file-opening calls made, in ``path``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in WRITER_STATE:
            found.add(f".{node.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in FILE_CALLS:
                found.add(f"{name}()")
            if any(k.arg == "mmap_mode" for k in node.keywords):
                found.add("mmap_mode=")
    return found


def test_only_the_writer_and_the_status_open_files_of_the_output_directory() -> None:
    """No stage reads what another wrote: build/ and the page stage hand values to each other
    and reach the output directory only through write.py's API (which checks digests)."""
    offenders = {}
    for name, path in MODULES.items():
        if name in OUTPUT_OWNERS:
            continue
        found = file_access(path)
        if not name.startswith(("reportgen.build", *STAGE_PACKAGES)) or name in READS_ELSEWHERE:
            found &= {f".{a}" for a in WRITER_STATE}  # elsewhere only the writer's state counts
        if found:
            offenders[name] = sorted(found)
    assert offenders == {}


def test_the_file_access_check_finds_a_read(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f(writer, p):\n    writer._staging\n    open(p)\n"
        "    p.read_bytes()\n    np.load(p, mmap_mode='r')\n"
    )
    assert file_access(module) == {"._staging", "open()", "read_bytes()", "mmap_mode="}


# --- the record is derived from analysis, never the other way round ------------------------------

RECORD_MODULES = frozenset({"reportgen.analysis.record", "reportgen.analysis.group_record"})


def test_analysis_statistics_never_import_the_records() -> None:
    """The records (``RunRecord``, ``GroupRecord``) are made from analysis results; analysis
    computations take runs through a protocol (``analysis.members``), not the cached format."""
    offenders = {
        name: sorted(GRAPH[name] & RECORD_MODULES)
        for name in GRAPH
        if name.startswith("reportgen.analysis") and name not in RECORD_MODULES
    }
    assert {k: v for k, v in offenders.items() if v} == {}


# --- sizes ---------------------------------------------------------------------------------------

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500
# Written at the top of a module (within its first lines) that is allowed to exceed the limits:
# the marker, then the reason in words.
REASON_MARKER = "# Over the size limits:"
# Modules (or module:function) other work is splitting now; each leaves this set with its split.
PENDING_SPLIT: frozenset[str] = frozenset()


def oversized(name: str, path: Path) -> list[str]:
    """The module (if over MAX_MODULE_LINES) and its functions over MAX_FUNCTION_LINES."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if any(line.startswith(REASON_MARKER) for line in lines[:15]):
        return []
    found = [name] if len(lines) > MAX_MODULE_LINES else []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.name}")
    return found


def test_functions_and_modules_stay_short() -> None:
    """At most 60 lines a function and 500 a module: a longer one is split by responsibility
    (or says at its top why it is not)."""
    found = {item for name, path in MODULES.items() for item in oversized(name, path)}
    pending = {f for f in found if f in PENDING_SPLIT or f.split(":")[0] in PENDING_SPLIT}
    assert found - pending == set()


def test_pending_splits_are_still_pending() -> None:
    """An entry leaves PENDING_SPLIT once its module is split (so the set cannot go stale)."""
    found = {item for name, path in MODULES.items() for item in oversized(name, path)}
    still = {p for p in PENDING_SPLIT if any(f == p or f.startswith(p + ":") for f in found)}
    assert still == PENDING_SPLIT


def test_the_size_check_counts_lines(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    module.write_text(f"def long():\n{body}\n\ndef short():\n    return 1\n")
    assert oversized("m", module) == ["m:long"]
    module.write_text(f"{REASON_MARKER} generated tables\n" + module.read_text())
    assert oversized("m", module) == []


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
