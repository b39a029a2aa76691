"""Bad input never breaks the site: a bad run is one error page; RESULTS_DIR is never touched."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reportgen import cli
from reportgen.analysis import RunAnalysis, analyze_run
from reportgen.build import BuildOptions, BuildResult, build
from reportgen.discover import discover
from reportgen.load import inputs, load_run
from reportgen.load.models import Run
from reportgen.vetted import VettedFiles
from reportgen.write import WriteError
from tests.sitecheck import broken_links
from tests.test_security import unescaped_payloads, unsafe_data_files

GROUP = "diagnostics_run/full_data/E_256"
TEMPLATE_RUN = f"{GROUP}/run_01"
MAX_BYTES = 2 * 1024 * 1024  # above every sample file (≈1 MB), so "too large" stays cheap
CANARY = "CANARY-outside-the-results-tree-7f3a"
Maker = Callable[[Path, "Corpus"], None]


@dataclass(frozen=True)
class Case:
    """One bad input: where it goes, and what the build must make of it."""

    name: str
    make: Maker
    expect: str  # "error": an error page; "ok": a normal page; "skipped": listed as not followed
    reason: str = ""  # a substring of the error or skip reason
    findings: tuple[str, ...] = ()
    line_column: tuple[int, int] | None = None
    page_text: tuple[str, ...] = ()  # what the page must say (escaped like the page)
    normalization: str | None = None  # the summary's normalization.true, when it matters

    @property
    def run_id(self) -> str:
        return f"{GROUP}/{self.name}"


@dataclass
class Corpus:
    """The template run's text, and the place outside the tree that symlinks point to."""

    text: str
    outside: Path
    unreadable: list[Path] = field(default_factory=list)


def _write(run: Path, content: bytes | str, name: str = "results.json") -> None:
    run.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    (run / name).write_bytes(data)


def _doc(change: Callable[[dict[str, Any]], None]) -> Maker:
    """A copy of the template run with ``change`` applied, written with NaN/Infinity tokens."""

    def make(run: Path, corpus: Corpus) -> None:
        doc = json.loads(corpus.text)
        change(doc)
        _write(run, json.dumps(doc, allow_nan=True))

    return make


def _raw(content: bytes) -> Maker:
    return lambda run, corpus: _write(run, content)


def _entry(doc: dict[str, Any], i: int = 0) -> dict[str, Any]:
    entry: dict[str, Any] = doc["true"]["entries"][i]["diagnostics"]
    return entry


def _non_finite(doc: dict[str, Any]) -> None:
    _entry(doc)["h_new"][0] = float("nan")
    doc["true"]["entries"][1]["delta_h_true"] = float("inf")
    doc["approx"]["delta_h_per_lr"] = float("-inf")


def _strings(doc: dict[str, Any]) -> None:
    doc["B_E"] = str(doc["B_E"])
    doc["approx"]["delta_h_per_lr"] = repr(doc["approx"]["delta_h_per_lr"])
    for entry in doc["true"]["entries"]:
        entry["eta"] = repr(entry["eta"])
        diagnostics = entry["diagnostics"]
        diagnostics["token_counts"] = [str(v) for v in diagnostics["token_counts"]]
        diagnostics["weights_sum"] = repr(diagnostics["weights_sum"])


def _shorter(doc: dict[str, Any]) -> None:
    _entry(doc)["h_new"] = _entry(doc)["h_new"][:-7]


def _tokens(doc: dict[str, Any]) -> None:
    _entry(doc)["token_counts"][0] = -5
    _entry(doc)["token_counts"][1] = 0


def _zero_weights(doc: dict[str, Any]) -> None:
    _entry(doc)["normalized_weights"] = [0.0] * len(_entry(doc)["normalized_weights"])


def _limits(doc: dict[str, Any]) -> None:
    _entry(doc)["h_new"][0] = 1e308
    _entry(doc)["h_base"][1] = -1e308
    _entry(doc)["normalized_weights"][2] = 1e-320
    doc["approx"]["delta_h_per_lr"] = 1e308


def _huge_counts(doc: dict[str, Any]) -> None:
    doc["B_E"] = 1e19  # beyond 64 bits: no JSON writer takes it as an integer
    doc["approx"]["num_tokens"] = 2**70


def _huge_eta(doc: dict[str, Any]) -> None:
    doc["true"]["entries"][0]["eta"] = 1e200  # η² overflows


def _bad_features(doc: dict[str, Any]) -> None:
    doc["approx"]["per_sequence"][1]["features"] = "oops"


def _wrong_types(doc: dict[str, Any]) -> None:
    doc["true"]["entries"] = "not a list"


def _nulls(doc: dict[str, Any]) -> None:
    for entry in doc["true"]["entries"]:
        entry["diagnostics"] = None
    doc["approx"] = None


def _duplicate(run: Path, corpus: Corpus) -> None:
    _write(run, '{"B_E": -1, "approx": [], ' + corpus.text.lstrip()[1:])


def _truncated(run: Path, corpus: Corpus) -> None:
    _write(run, corpus.text[: len(corpus.text) // 2])


def _syntax_error(run: Path, corpus: Corpus) -> None:
    _write(run, '{\n  "B_E": 256,\n  "approx": {"method": tru}\n}\n')


def _too_large(run: Path, corpus: Corpus) -> None:
    _write(run, b"")
    os.truncate(run / "results.json", MAX_BYTES + 1)  # sparse: costs no disk


def _directory(run: Path, corpus: Corpus) -> None:
    (run / "results.json").mkdir(parents=True)


def _symlink_loop(run: Path, corpus: Corpus) -> None:
    run.mkdir()
    os.symlink("results.json", run / "results.json")
    os.symlink("..", run / "up")  # a directory loop as well


def _escaping_file(run: Path, corpus: Corpus) -> None:
    run.mkdir()
    os.symlink(corpus.outside / "results.json", run / "results.json")


def _escaping_dir(run: Path, corpus: Corpus) -> None:
    os.symlink(corpus.outside, run)


def _unreadable(run: Path, corpus: Corpus) -> None:
    _write(run, corpus.text)
    (run / "results.json").chmod(0)
    corpus.unreadable.append(run / "results.json")


def _fifo(run: Path, corpus: Corpus) -> None:
    run.mkdir()
    os.mkfifo(run / "results.json")


def _config(text: str) -> Maker:
    def make(run: Path, corpus: Corpus) -> None:
        _write(run, corpus.text)
        _write(run, text, "config.yaml")
        _write(run, b"\xff{", "plan.json")

    return make


def _copy(run: Path, corpus: Corpus) -> None:
    _write(run, corpus.text)


# --- η that is not a number: left out at load, named by a finding ---------------------------


def _eta(*values: float) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for i, value in enumerate(values):
            doc["true"]["entries"][i]["eta"] = value

    return change


def _nan_ratio_key(doc: dict[str, Any]) -> None:
    doc["approx"]["quadratic"]["ratio_pred"]["NaN"] = 1.0


def _all_eta_nan(doc: dict[str, Any]) -> None:
    for entry in doc["true"]["entries"]:
        entry["eta"] = float("nan")


def _no_entries(doc: dict[str, Any]) -> None:
    doc["true"]["entries"] = []


def _bool_array(doc: dict[str, Any]) -> None:
    _entry(doc)["h_new"][0] = True


def _overflow(doc: dict[str, Any]) -> None:
    for entry in doc["true"]["entries"]:
        entry["diagnostics"]["h_new"] = [1e308] * len(entry["diagnostics"]["h_new"])
        entry["diagnostics"]["token_counts"] = [1e18] * len(entry["diagnostics"]["token_counts"])
    for record in doc["approx"]["per_sequence"]:
        record["gdotv"] = 1e308


# --- configs: unreadable in part is an error finding, never a silent default ----------------

PER_SEQUENCE = (
    "true_delta_h:\n  report_per_token: false\napprox_delta_h:\n  normalize: per_sequence\n"
)


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    top = f"*a{levels}"
    return (
        "\n".join(lines)
        + f"\napprox_delta_h:\n  normalize: {top}\ntrue_delta_h:\n  report_per_token: {top}\n"
    )


def _with_files(**files: bytes | str | int) -> Maker:
    """The template run plus files; an ``int`` is a sparse file of that many bytes."""

    def make(run: Path, corpus: Corpus) -> None:
        _write(run, corpus.text)
        for name, content in files.items():
            path = run / name.replace("__", "/").replace("_dot_", ".")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, int):
                path.write_bytes(b"")
                os.truncate(path, content)
            else:
                path.write_bytes(content.encode() if isinstance(content, str) else content)

    return make


def _unreadable_file(name: str, content: str = "# notes\n") -> Maker:
    def make(run: Path, corpus: Corpus) -> None:
        _write(run, corpus.text)
        _write(run, content, name)
        (run / name).chmod(0)
        corpus.unreadable.append(run / name)

    return make


LONG_TEXT = "# " + "x" * 98 + "\n"


CASES = (
    Case("run_empty", _raw(b""), "error", "file is empty"),
    Case("run_blank", _raw(b" \n\t\n"), "error", "file is empty"),
    Case("run_truncated", _truncated, "error", "invalid JSON", line_column=(-1, -1)),
    Case("run_syntax", _syntax_error, "error", "invalid JSON", line_column=(3, 24)),
    Case("run_bad_utf8", _raw(b'{"B_E": "\xff\xfe"}'), "error", "not valid UTF-8 (byte 9)"),
    Case("run_binary", _raw(bytes(range(256)) * 4), "error", "not valid UTF-8"),
    Case("run_nul_bytes", _raw(b"\0" * 64), "error", "invalid JSON", line_column=(1, 1)),
    Case("run_array", _raw(b"[1, 2, 3]"), "error", "top level is a list, not an object"),
    Case("run_number", _raw(b"42"), "error", "top level is a number, not an object"),
    Case("run_string", _raw(b'"results"'), "error", "top level is a string, not an object"),
    Case("run_null", _raw(b"null"), "error", "top level is null, not an object"),
    Case("run_non_finite", _doc(_non_finite), "ok", findings=("non-finite",)),
    Case("run_strings", _doc(_strings), "ok"),
    Case("run_length_mismatch", _doc(_shorter), "ok", findings=("length-mismatch",)),
    Case("run_tokens", _doc(_tokens), "ok", findings=("nonpositive-token-counts",)),
    Case("run_zero_weights", _doc(_zero_weights), "ok", findings=("zero-weights",)),
    Case("run_float_limits", _doc(_limits), "ok"),
    Case("run_huge_counts", _doc(_huge_counts), "ok"),
    Case("run_huge_eta", _doc(_huge_eta), "ok", findings=("eta-beyond-curvature",)),
    Case(
        "run_bad_features",
        _doc(_bad_features),
        "error",
        "approx.per_sequence[1].features: expected an object, got a string",
    ),
    Case("run_wrong_types", _doc(_wrong_types), "error", "true.entries: expected a list"),
    Case("run_nulls", _doc(_nulls), "ok"),
    Case("run_deep", _raw(b"[" * 300_000), "error", "nested too deeply"),
    Case(
        "run_deep_balanced",
        _raw(b'{"a": ' + b"[" * 300_000 + b"]" * 300_000 + b"}"),
        "error",
        "nested too deeply",
    ),
    Case(
        "run_deep_objects",
        _raw(b'{"a": ' * 200_000 + b"1" + b"}" * 200_000),
        "error",
        "nested too deeply",
    ),
    Case(
        "run_lone_surrogate",
        _raw(b'{"a": "\\ud800", "\\udc00": ["x\\ud83d"]}'),
        "ok",
        findings=("unknown-schema",),
    ),
    Case("run_duplicate_keys", _duplicate, "ok"),
    Case("run_too_large", _too_large, "error", "above the limit of 2,097,152 bytes"),
    Case("run_directory", _directory, "error", "not a regular file"),
    Case("run_unreadable", _unreadable, "error", "Permission denied"),
    Case(
        "run_bad_config",
        _config("date: 2020-13-45\nx: !!float abc\n"),
        "ok",
        findings=("config-unreadable",),
    ),
    Case(
        "run_deep_config",
        _config("[" * 50_000 + "]" * 50_000),
        "ok",
        findings=("config-unreadable",),
    ),
    # item 1 and siblings: an η that is not a number
    Case("run_nan_eta", _doc(_eta(float("nan"))), "ok", findings=("non-finite-eta",)),
    Case("run_inf_eta", _doc(_eta(float("inf"))), "ok", findings=("non-finite-eta",)),
    Case("run_minus_inf_eta", _doc(_eta(1e-6, float("-inf"))), "ok", findings=("non-finite-eta",)),
    Case("run_nan_ratio_key", _doc(_nan_ratio_key), "ok", findings=("non-finite-eta",)),
    Case(
        "run_all_eta_nan", _doc(_all_eta_nan), "ok", findings=("non-finite-eta", "no-ground-truth")
    ),
    # item 9: values the loader used to take, or that broke a later stage
    Case("run_no_entries", _doc(_no_entries), "ok", findings=("no-ground-truth",)),
    Case(
        "run_bool_array",
        _doc(_bool_array),
        "error",
        "true.entries[0].diagnostics.h_new[0]: expected a number, got a boolean",
    ),
    Case("run_float_overflow", _doc(_overflow), "ok", findings=("contrib-sum-mismatch",)),
    # items 3 and 4: configs that cannot be read whole
    Case(
        "run_alias_bomb",
        _with_files(config_dot_yaml=_bomb(7)),
        "ok",
        findings=("config-unreadable",),
        page_text=("alias bomb",),
    ),
    Case(
        "run_recursive_alias",
        _with_files(config_dot_yaml="a: &a [*a]\napprox_delta_h:\n  normalize: *a\n"),
        "ok",
        findings=("config-unreadable",),
    ),
    Case(
        "run_per_seq_bad_date",
        _with_files(config_dot_yaml=PER_SEQUENCE + "d: 2020-13-45\n"),
        "ok",
        findings=("config-unreadable",),
        normalization="per_sequence",
    ),
    Case(
        "run_per_seq_python_tag",
        _with_files(config_dot_yaml=PER_SEQUENCE + "o: !!python/object:os.system {}\n"),
        "ok",
        findings=("config-unreadable",),
        normalization="per_sequence",
    ),
    Case(
        "run_per_seq_tab",
        _with_files(config_dot_yaml=PER_SEQUENCE + "o:\n\tk: 1\n"),
        "ok",
        findings=("config-unreadable",),
        normalization="per_sequence",
    ),
    Case(
        "run_per_seq_ok",
        _with_files(config_dot_yaml=PER_SEQUENCE),
        "ok",
        findings=("normalization-per-sequence",),
        normalization="per_sequence",
    ),
    Case(
        "run_long_config",
        _with_files(config_dot_yaml=PER_SEQUENCE + LONG_TEXT * 3000),
        "ok",
        findings=("input-skipped",),
        normalization="per_sequence",
        page_text=("the page shows the first 262,144",),
    ),
    Case(
        "run_long_plan",
        _with_files(plan_dot_json='{"pad": "' + "x" * 300_000 + '"}'),
        "ok",
        findings=("input-skipped",),
        page_text=("plan.json</code>: 300,011 bytes of text",),
    ),
    Case(
        "run_plan_not_object",
        _with_files(plan_dot_json="[1]"),
        "ok",
        findings=("input-skipped",),
        page_text=("not used: top level is a list",),
    ),
    # items 5 and 6: notes, images and artifacts too large or unreadable
    Case(
        "run_big_image",
        _with_files(huge_dot_png=MAX_BYTES + 1),
        "ok",
        findings=("input-skipped",),
        page_text=("huge.png</code>: file is 2,097,153 bytes",),
    ),
    Case(
        "run_big_note",
        _with_files(notes_dot_md=MAX_BYTES + 1),
        "ok",
        findings=("input-skipped",),
        page_text=("notes.md</code>: file is 2,097,153 bytes",),
    ),
    Case(
        "run_big_artifact",
        _with_files(cv_a__data_dot_csv=MAX_BYTES + 1),
        "ok",
        findings=("input-skipped",),
        page_text=("data.csv</code>: file is 2,097,153 bytes",),
    ),
    Case(
        "run_long_note",
        _with_files(notes_dot_md=LONG_TEXT * 3000),
        "ok",
        findings=("input-skipped",),
        page_text=("notes.md</code>: 303,000 bytes of text",),
    ),
    Case(
        "run_unreadable_note",
        _unreadable_file("notes.md"),
        "ok",
        findings=("input-skipped",),
        page_text=("notes.md</code>: cannot read file",),
    ),
    Case(
        "run_unreadable_image",
        _unreadable_file("plot.png", "png"),
        "ok",
        findings=("input-skipped",),
        page_text=("plot.png</code>: cannot read file",),
    ),
    Case(
        "run_unreadable_config",
        _unreadable_file("config.yaml", PER_SEQUENCE),
        "ok",
        findings=("config-unreadable", "input-skipped"),
        page_text=("config.yaml</code> could not be read",),
    ),
    # round three, item 5: small inputs that cost quadratic work or deep recursion
    Case(
        "run_bracket_note",
        _with_files(notes_dot_md="[" * 32 * 1024),
        "ok",
        page_text=("Shown as plain text: its unclosed brackets",),
    ),
    Case(
        "run_nested_list_note",
        _with_files(notes_dot_md="".join("    " * i + "- x\n" for i in range(300))),
        "ok",
        page_text=("Shown as plain text: it nests 598 levels deep",),
    ),
    Case(
        "run_block_nested_config",
        _with_files(
            config_dot_yaml="".join(" " * i + f"k{i}:\n" for i in range(990)) + " " * 990 + "v: 1\n"
        ),
        "ok",
        findings=("config-unreadable",),
        page_text=("nested 991 levels deep",),
    ),
    Case(
        "run_nested_plan",
        _with_files(plan_dot_json='{"a":' * 1000 + "1" + "}" * 1000),
        "ok",
        page_text=('{"a":{"a":{"a":',),
    ),
    Case(
        "run_nested_plan_lists",
        _with_files(
            plan_dot_json='{"capture_per_sequence": true, "x": ' + "[" * 1000 + "]" * 1000 + "}"
        ),
        "ok",
        page_text=('"x": [[[[',),
    ),
    # item 9: a file far above the limit costs the planner a stat, not a read
    Case(
        "run_sparse_8_gib_image",
        _with_files(huge_dot_png=8 * 1024**3),
        "ok",
        findings=("input-skipped",),
        page_text=("huge.png</code>: file is 8,589,934,592 bytes",),
    ),
    Case('=HYPERLINK("evil.example","x")+@SUM(1)', _copy, "ok"),
    Case("run <lt> >gt & amp 'single' \"double\" ü 日本 spaces", _copy, "ok"),
    Case('run <script>alert(1)</script> & "q" ü', _copy, "ok"),
    Case("run_symlink_loop", _symlink_loop, "skipped", "symbolic link"),
    Case("run_escaping_file", _escaping_file, "skipped", "symbolic link"),
    Case("run_escaping_dir", _escaping_dir, "skipped", "symbolic link"),
    Case("run_fifo", _fifo, "skipped", "not a regular file"),
    Case(os.fsdecode(b"run_latin1_\xe9"), _copy, "skipped", "not valid UTF-8"),
    Case("..run_hidden", _copy, "skipped", "hidden directory"),
)
BY_NAME = {case.name: case for case in CASES}
ERRORS = [c.name for c in CASES if c.expect == "error"]
ACCEPTED = [c.name for c in CASES if c.expect == "ok"]
SKIPPED = [c.name for c in CASES if c.expect == "skipped"]
HINTS = {"run_too_large": "--max-file-size", "run_truncated": "truncated"}
UNREADABLE_INPUTS = {
    "run_unreadable_note": "notes.md",
    "run_unreadable_image": "plot.png",
    "run_unreadable_config": "config.yaml",
}


# --- snapshots of a directory ----------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below ``root``: type, mode, size, mtime and content hash (links not followed)."""
    entries: dict[str, tuple[Any, ...]] = {}
    for directory, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = Path(directory, name)
            st = path.lstat()
            entries[str(path.relative_to(root))] = (
                stat.S_IFMT(st.st_mode),
                st.st_mode,
                st.st_size,
                st.st_mtime_ns,
                _content(path, st),
            )
    return entries


def _content(path: Path, st: os.stat_result) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path)
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except PermissionError:
        return "unreadable"


# --- the corpus: one build holding every bad run ---------------------------------------------


@dataclass(frozen=True)
class CorpusSite:
    results: Path
    site: Path
    result: BuildResult
    reference: Path
    before: dict[str, tuple[Any, ...]]
    after: dict[str, tuple[Any, ...]]
    parent_before: set[str]
    parent_after: set[str]


@contextmanager
def _unreadable_as_root(paths: list[Path]) -> Iterator[None]:
    """Root reads through chmod 000: make those files raise EACCES as they would for a user."""
    with pytest.MonkeyPatch.context() as patch:
        if any(os.access(p, os.R_OK) for p in paths):
            original = inputs.open_input
            blocked = {str(p) for p in paths}

            def open_input(root: Path, rel: str, vetted: VettedFiles | None) -> int:
                if str(root / rel) in blocked:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), rel)
                return original(root, rel, vetted)

            patch.setattr(inputs, "open_input", open_input)
        yield


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Turn a hang (say, opening a FIFO) into a failure instead of a stuck test run."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the build did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def corpus(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusSite]:
    base = tmp_path_factory.mktemp("corpus")
    outside = base / "outside"
    outside.mkdir()
    (outside / "results.json").write_text(json.dumps({"B_E": 1, "secret": CANARY}))
    (outside / "notes.md").write_text(CANARY)
    results = shutil.copytree(sample_tree, base / "results", symlinks=True)
    reference = base / "reference"
    build(BuildOptions(results=results, out=reference, jobs=1, max_bytes=MAX_BYTES))
    text = (results / TEMPLATE_RUN / "results.json").read_text()
    state = Corpus(text, outside)
    for case in CASES:
        case.make(results / GROUP / case.name, state)
    parent_before = set(os.listdir(base))
    before = snapshot(results)
    options = BuildOptions(results=results, out=base / "site", jobs=1, max_bytes=MAX_BYTES)
    with _unreadable_as_root(state.unreadable), _deadline(120):
        result = build(options)
    yield CorpusSite(
        results,
        base / "site",
        result,
        reference,
        before,
        snapshot(results),
        parent_before,
        set(os.listdir(base)),
    )
    for path in state.unreadable:
        path.chmod(0o644)


def _manifest(site: Path) -> dict[str, dict[str, Any]]:
    runs = json.loads((site / "manifest.json").read_text())["runs"]
    return {run["id"]: run for run in runs}


def _summary(site: Path, run_id: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((site / _manifest(site)[run_id]["summary"]).read_text())
    return summary


def _page(site: Path, run_id: str) -> str:
    page = str(_manifest(site)[run_id]["page"])
    return (site / page).read_text(encoding="utf-8")


def _escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


# --- per-run failures ------------------------------------------------------------------------


@pytest.mark.slow
def test_corpus_builds_with_exactly_the_bad_runs_failed(corpus: CorpusSite) -> None:
    assert sorted(corpus.result.failed_runs) == sorted(BY_NAME[n].run_id for n in ERRORS)
    expected = sorted(f"{BY_NAME[n].run_id}/{f}" for n, f in UNREADABLE_INPUTS.items())
    assert sorted(u.split(" (", 1)[0] for u in corpus.result.unreadable) == expected
    assert all("Permission denied" in u for u in corpus.result.unreadable)
    manifest = _manifest(corpus.site)
    reference = _manifest(corpus.reference)
    every_run = set(reference) | {BY_NAME[n].run_id for n in ERRORS + ACCEPTED}
    assert set(manifest) == every_run


@pytest.mark.slow
@pytest.mark.parametrize("name", ERRORS)
def test_unreadable_run_gets_an_error_page(corpus: CorpusSite, name: str) -> None:
    case = BY_NAME[name]
    entry = _manifest(corpus.site)[case.run_id]
    assert entry["status"] == "error"
    error = entry["error"]
    assert case.reason in error["reason"]
    assert error["file"] == f"{case.run_id}/results.json"
    assert error["hint"]
    assert HINTS.get(name, "") in error["hint"]
    summary = _summary(corpus.site, case.run_id)
    assert summary["error"] == error
    assert [f["id"] for f in summary["findings"]] == ["parse-error"]
    page = _page(corpus.site, case.run_id)
    assert "could not be read" in page
    assert _escaped(error["reason"]) in page
    assert f"<code>{_escaped(error['file'])}</code>" in page
    assert _escaped(error["hint"]) in page
    if case.line_column is not None:
        line, column = _line_column(corpus, case)
        if case.line_column == (-1, -1):  # cut inside a number: the error is at its start
            text = (corpus.results / case.run_id / "results.json").read_text().rstrip()
            tail = len(text) - len(text.rstrip("-+.0123456789eE"))
            assert error["line"] == line and column - tail - 1 <= error["column"] <= column
            column = error["column"]
        assert (error["line"], error["column"]) == (line, column)
        assert f"line {line}, column {column}" in page


def _line_column(corpus: CorpusSite, case: Case) -> tuple[int, int]:
    """(-1, -1) stands for "the end of the file" (a truncated document)."""
    if case.line_column != (-1, -1):
        assert case.line_column is not None
        return case.line_column
    text = (corpus.results / case.run_id / "results.json").read_text().rstrip()
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ACCEPTED)
def test_acceptable_input_loads(corpus: CorpusSite, name: str) -> None:
    case = BY_NAME[name]
    assert _manifest(corpus.site)[case.run_id]["status"] == "ok"
    summary = _summary(corpus.site, case.run_id)
    ids = {f["id"] for f in summary["findings"]}
    assert "parse-error" not in ids and "check-failed" not in ids
    assert set(case.findings) <= ids, ids
    page = _page(corpus.site, case.run_id)
    assert _escaped(case.name) in page
    for text in case.page_text:
        assert _escaped(text).replace("&lt;/code&gt;", "</code>") in page, text
    if case.normalization is not None:
        assert summary["normalization"]["true"] == case.normalization


def _no_intervals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if not k.startswith("ci95_")} for row in rows]


@pytest.mark.slow
def test_accepted_variants_match_the_template_run(corpus: CorpusSite) -> None:
    """Numbers as strings, duplicate keys (last wins) and bad configs change no number."""
    template = _summary(corpus.reference, TEMPLATE_RUN)
    for name in ("run_strings", "run_duplicate_keys", "run_bad_config", "run_deep_config"):
        summary = _summary(corpus.site, BY_NAME[name].run_id)
        # bootstrap intervals are seeded per run id by design; every other number is equal
        assert _no_intervals(summary["etas"]) == _no_intervals(template["etas"]), name
        assert summary["batch_size"] == template["batch_size"] == 256, name


@pytest.mark.slow
def test_non_finite_values_are_reported_where_they_reach_the_arithmetic(
    corpus: CorpusSite,
) -> None:
    summary = _summary(corpus.site, BY_NAME["run_non_finite"].run_id)
    messages = [f["message"] for f in summary["findings"] if f["id"] == "non-finite"]
    assert len(messages) >= 2
    assert any("h_new" in m for m in messages)
    assert any("delta_h_per_lr" in m for m in messages)


@pytest.mark.slow
@pytest.mark.parametrize("name", SKIPPED)
def test_links_fifos_and_undecodable_names_are_listed_not_read(
    corpus: CorpusSite, name: str
) -> None:
    case = BY_NAME[name]
    assert not any(run_id.startswith(case.run_id) for run_id in _manifest(corpus.site))
    index = (corpus.site / "index.html").read_text(encoding="utf-8")
    shown = os.fsencode(case.run_id).decode("utf-8", errors="replace")
    assert f"<code>{_escaped(shown)}" in index
    item = index.split(f"<code>{_escaped(shown)}", 1)[1].split("</li>", 1)[0]
    assert case.reason in item


def test_nested_and_textual_timings_are_not_errors(sample_tree: Path, tmp_path: Path) -> None:
    """Timings are display-only facts: a nested or textual entry is left out, not fatal."""
    run = tmp_path / "a/run_01"
    doc = json.loads(
        (sample_tree / "comparison_across_learning_rates/run_01/results.json").read_text()
    )
    doc["timing"] |= {"per_eta": {"1e-06": 3.5}, "note": "slow node", "h_approx": "0.25"}
    _write(run, json.dumps(doc))
    tree, _ = discover(tmp_path)
    loaded = load_run(tree.runs[0], tmp_path)
    assert isinstance(loaded, Run), loaded
    facts = {f.label: f.value for f in loaded.facts}
    assert facts["Time: h_approx"] == 0.25 and facts["Time: total"] == doc["timing"]["total"]
    assert not any("per_eta" in label or "note" in label for label in facts)


@pytest.mark.slow
def test_nothing_outside_the_tree_is_read(corpus: CorpusSite) -> None:
    for path in corpus.site.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_good_runs_are_byte_identical_to_a_build_without_bad_runs(corpus: CorpusSite) -> None:
    reference = _manifest(corpus.reference)
    assert len(reference) == 9
    compared = 0
    for run_id, entry in reference.items():
        run_dir = (corpus.reference / entry["page"]).parent
        for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
            rel = path.relative_to(corpus.reference)
            assert (corpus.site / rel).read_bytes() == path.read_bytes(), rel
            compared += 1
        assert _manifest(corpus.site)[run_id] == entry
    assert compared >= 9 * 2


@pytest.mark.slow
def test_corpus_site_is_safe_and_its_links_work(corpus: CorpusSite) -> None:
    assert unescaped_payloads(corpus.site) == []
    assert unsafe_data_files(corpus.site) == []
    assert broken_links(corpus.site) == []
    index = (corpus.site / "index.html").read_text(encoding="utf-8")
    assert "run &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;q&#34; ü" in index


# --- no data loss ----------------------------------------------------------------------------


@pytest.mark.slow
def test_build_never_modifies_the_results_tree(corpus: CorpusSite) -> None:
    assert len(corpus.before) > 60
    assert corpus.after == corpus.before


@pytest.mark.slow
def test_build_writes_nothing_beside_its_output(corpus: CorpusSite) -> None:
    assert corpus.parent_after == corpus.parent_before | {"site"}
    assert not [n for n in corpus.parent_after if ".staging-" in n or ".old-" in n]


@pytest.fixture(scope="module")
def tiny_tree(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two quick η-sweep runs and one truncated run."""
    root = tmp_path_factory.mktemp("tiny") / "results"
    for run in ("run_01", "run_02"):
        rel = f"comparison_across_learning_rates/{run}"
        shutil.copytree(sample_tree / rel, root / rel)
    _write(root / "comparison_across_learning_rates/run_bad", '{"sweep": [')
    _write(root / "comparison_across_learning_rates/run_huge", b"")
    os.truncate(root / "comparison_across_learning_rates/run_huge/results.json", 2**20 + 1)
    return root


def _cli(*args: str | Path) -> int:
    return cli.main(["build", *(str(a) for a in args), "-j", "1", "-q"])


def test_output_inside_or_around_the_results_is_refused(tiny_tree: Path, tmp_path: Path) -> None:
    results = shutil.copytree(tiny_tree, tmp_path / "results")
    before = snapshot(results)
    for out in (results, results / "site", results / "comparison_across_learning_rates"):
        with pytest.raises(WriteError):
            build(BuildOptions(results=results, out=out))
        assert _cli(results, "-o", out) == 2
    with pytest.raises(WriteError):
        build(BuildOptions(results=results, out=tmp_path))
    assert _cli(results, "-o", tmp_path) == 2
    assert snapshot(results) == before
    assert sorted(os.listdir(tmp_path)) == ["results"]


def test_non_empty_foreign_output_needs_force(tiny_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(WriteError, match="--force"):
        build(BuildOptions(results=tiny_tree, out=out))
    assert _cli(tiny_tree, "-o", out) == 2
    assert os.listdir(out) == ["thesis.tex"]
    assert _cli(tiny_tree, "-o", out, "--force") == 1
    assert (out / "index.html").is_file() and not (out / "thesis.tex").exists()
    assert _cli(tiny_tree, "-o", out) == 1  # now a reportgen site: rebuilt without --force
    assert sorted(os.listdir(tmp_path)) == [".out.spare", "out"]  # the replaced site, kept


def test_cli_exit_code_and_no_traceback(tiny_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    command = [sys.executable, "-m", "reportgen", "build", str(tiny_tree), "-o", str(out),
               "-j", "1", "--max-file-size", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert done.returncode == 1, done.stderr
    output = done.stdout + done.stderr
    assert "could not read: comparison_across_learning_rates/run_bad" in output
    assert "Traceback" not in output
    assert (out / "runs/comparison_across_learning_rates/run_bad/index.html").is_file()
    huge = _manifest(out)["comparison_across_learning_rates/run_huge"]["error"]
    assert huge["reason"] == "file is 1,048,577 bytes, above the limit of 1,048,576 bytes"
    assert "--max-file-size" in huge["hint"]


def test_deep_nesting_cannot_crash_the_interpreter() -> None:
    """orjson before 3.9 overflows the C stack on deep input; run it where a crash is visible."""
    code = (
        "from reportgen.load import LoadError, parse_json\n"
        "for doc in (b'[' * 300000, b'{\"a\": ' * 200000 + b'1' + b'}' * 200000,\n"
        "            b'[' * 300000 + b']' * 300000):\n"
        "    try:\n"
        "        parse_json(doc)\n"
        "    except LoadError as exc:\n"
        "        print(exc.reason)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["JSON is nested too deeply to read"] * 3


def test_followed_symlinks_stay_inside_the_tree(tmp_path: Path, sample_tree: Path) -> None:
    """--follow-symlinks follows links inside RESULTS_DIR only; a loop is named a loop."""
    root = tmp_path / "results"
    shutil.copytree(sample_tree / "comparison_across_learning_rates/run_01", root / "a/run_01")
    outside = tmp_path / "outside"
    _write(outside, json.dumps({"secret": CANARY}))
    (root / "b/run_linked").mkdir(parents=True)
    os.symlink("../../a/run_01/results.json", root / "b/run_linked/results.json")  # followed
    os.symlink("../a/run_01", root / "b/run_again")  # a directory already walked: not twice
    os.symlink(outside, root / "b/run_outside")  # a directory outside: not followed
    os.symlink(outside / "results.json", root / "b/outside_results.json")
    os.symlink(".", root / "a/loop")  # a directory loop
    os.symlink("..", root / "a/run_01/up")  # a loop two levels up
    os.symlink("self_results.json", root / "b/self_results.json")  # a link to itself
    before = snapshot(root)
    result = build(BuildOptions(results=root, out=tmp_path / "site", follow_symlinks=True))
    manifest = _manifest(tmp_path / "site")
    assert manifest["b/run_linked"]["status"] == "ok"
    assert sorted(manifest) == ["a/run_01", "b/run_linked"]
    for path in (tmp_path / "site").rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    index = (tmp_path / "site/index.html").read_text(encoding="utf-8")
    for name in ("b/run_outside", "b/outside_results.json"):
        assert f"<code>{name}</code>: symbolic link leaving the results tree" in index
    assert "<code>b/self_results.json</code>: symbolic link loop" in index
    for name in ("a/loop", "a/run_01/up"):
        assert f"<code>{name}</code>: symbolic link loop (points to a directory" in index
    assert "<code>b/run_again</code>: symbolic link to a/run_01, which is listed" in index
    assert result.failed_runs == []
    assert snapshot(root) == before


def test_a_followed_link_that_sorts_first_never_takes_a_runs_place(
    tmp_path: Path, sample_tree: Path
) -> None:
    """``a/0_latest -> run_07`` sorts before ``run_07``: the run keeps its own name and place,
    and the link is listed as skipped, saying where it points."""
    root = tmp_path / "results"
    shutil.copytree(sample_tree / "comparison_across_learning_rates/run_01", root / "a/run_07")
    shutil.copytree(sample_tree / "comparison_across_learning_rates/run_02", root / "a/run_08")
    os.symlink("run_07", root / "a/0_latest")
    tree, skipped = discover(root, follow_symlinks=True)
    assert [r.id for r in tree.runs] == ["a/run_07", "a/run_08"]
    assert [(s.path, s.reason) for s in skipped] == [
        ("a/0_latest", "symbolic link to a/run_07, which is listed under its own name")
    ]


def test_internal_errors_show_a_traceback_only_with_verbose(
    tiny_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def crash_on_run_02(run: Run, *args: Any, **kwargs: Any) -> RunAnalysis:
        if run.ref.id.endswith("run_02"):
            raise ZeroDivisionError("simulated bug")
        return analyze_run(run, *args, **kwargs)

    monkeypatch.setattr("reportgen.analysis.analyze_run", crash_on_run_02)
    for verbose, out in ((False, tmp_path / "quiet"), (True, tmp_path / "verbose")):
        caplog.clear()
        flags = ["-v"] if verbose else []
        code = cli.main(["build", str(tiny_tree), "-o", str(out), "-j", "1", *flags])
        printed = capsys.readouterr()
        assert code == 1
        text = caplog.text + printed.out + printed.err
        assert ("Traceback" in text) is verbose
        assert "could not read: comparison_across_learning_rates/run_02" in printed.out
        page = (out / "runs/comparison_across_learning_rates/run_02/index.html").read_text()
        assert "ZeroDivisionError: simulated bug" in page


# --- item by item: what used to cost the whole site ------------------------------------------

SWEEPS = "comparison_across_learning_rates"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def _reportgen(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "reportgen", *(str(a) for a in args)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=_env(), **kwargs
    )


def _site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


@pytest.mark.slow
def test_bombs_and_huge_files_build_in_bounded_memory(tiny_tree: Path, tmp_path: Path) -> None:
    """Under a 1.5 GB address-space cap: a 7-level alias bomb, a 25 MB config, a sparse 3 GiB
    image and a sparse 3 GiB results file each cost their run a finding or an error page."""
    clean = shutil.copytree(tiny_tree, tmp_path / "clean")
    baseline = _reportgen("build", clean, "-o", tmp_path / "baseline", "-j", "1")
    assert baseline.returncode == 1, baseline.stderr  # the tiny tree's two bad runs
    results = shutil.copytree(tiny_tree, tmp_path / "results")
    (results / SWEEPS / "run_01/config.yaml").write_text(_bomb(7))
    (results / SWEEPS / "run_02/config.yaml").write_text(PER_SEQUENCE + LONG_TEXT * 250_000)
    image = results / SWEEPS / "run_01/huge.png"
    image.write_bytes(b"")
    os.truncate(image, 3 * 2**30)
    (results / SWEEPS / "run_sparse").mkdir()
    (results / SWEEPS / "run_sparse/results.json").write_bytes(b"")
    os.truncate(results / SWEEPS / "run_sparse/results.json", 3 * 2**30)
    cap = ["prlimit", f"--as={1_500_000_000}", sys.executable, "-m", "reportgen"]
    done = subprocess.run(
        [*cap, "build", str(results), "-o", str(tmp_path / "site"), "-j", "1"],
        capture_output=True, text=True, timeout=300, check=False, env=_env(),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    site = tmp_path / "site"
    assert _site_bytes(site) < _site_bytes(tmp_path / "baseline") + 3 * 2**20
    manifest = _manifest(site)
    assert manifest[f"{SWEEPS}/run_sparse"]["status"] == "error"
    for run in ("run_01", "run_02"):
        summary = _summary(site, f"{SWEEPS}/{run}")
        assert summary["status"] == "ok"
        assert "config-unreadable" in {f["id"] for f in summary["findings"]}
    first = _page(site, f"{SWEEPS}/run_01")
    assert "huge.png</code>: file is 3,221,225,472 bytes, above the limit" in first
    assert "alias bomb" in first


def test_run_id_collisions_publish_every_run(sample_tree: Path, tmp_path: Path) -> None:
    """Results files whose ids (or output paths) would collide get distinct ids, shown as such."""
    template = (sample_tree / SWEEPS / "run_01/results.json").read_bytes()
    results = tmp_path / "results"
    for rel in (
        "a/eval_results.json",  # id a/eval_results ...
        "a/eval_results/results.json",  # ... and this one's
        "results.json",  # id results ...
        "results/results.json",  # ... and this one's
        "b/run_01/results.json",
        "b/run_01/summary.json/results.json",  # a run directory named like a run's file
        "b/run_01/index.html/results.json",
        "b/run_01/files/results.json",
        "b/run_01/sample.npy/results.json",  # ... or like its private files
        "b/run_01/page.json/results.json",
    ):
        (results / rel).parent.mkdir(parents=True, exist_ok=True)
        (results / rel).write_bytes(template)
    result = build(BuildOptions(results=results, out=tmp_path / "site", jobs=1))
    manifest = _manifest(tmp_path / "site")
    assert sorted(manifest) == [
        "a/eval_results", "a/eval_results.json", "b/run_01", "b/run_01/files",
        "b/run_01/index.html", "b/run_01/page.json", "b/run_01/sample.npy",
        "b/run_01/summary.json", "results", "results.json",
    ]  # fmt: skip
    assert manifest["a/eval_results"]["source"] == "a/eval_results/results.json"
    assert manifest["results"]["source"] == "results/results.json"
    assert result.failed_runs == [] and result.unreadable == []
    pages = {entry["page"] for entry in manifest.values()}
    assert len(pages) == len(manifest)
    for entry in manifest.values():
        assert entry["status"] == "ok"
        assert (tmp_path / "site" / entry["page"]).is_file()
    assert (
        json.loads((tmp_path / "site/runs/b/run_01/summary.json").read_text())["id"] == "b/run_01"
    )
    assert broken_links(tmp_path / "site") == []


def test_unreadable_directory_is_named_and_makes_exit_1(
    tiny_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = shutil.copytree(tiny_tree, tmp_path / "results")
    blocked = results / SWEEPS / "run_02"
    original = os.scandir

    def scandir(path: Any) -> Any:  # root lists chmod 000 directories: refuse as for a user
        if isinstance(path, (str, os.PathLike)) and Path(path) == blocked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return original(path)

    shutil.rmtree(results / SWEEPS / "run_bad")
    shutil.rmtree(results / SWEEPS / "run_huge")
    monkeypatch.setattr("reportgen.discover.os.scandir", scandir)
    assert cli.main(["build", str(results), "-o", str(tmp_path / "site"), "-j", "1"]) == 1
    out = capsys.readouterr().out
    assert f"could not read: {SWEEPS}/run_02 (unreadable directory (Permission denied))" in out
    index = (tmp_path / "site/index.html").read_text()
    assert f"<code>{SWEEPS}/run_02</code>: unreadable directory (Permission denied)" in index
    # the next (up-to-date) build still says so
    assert cli.main(["build", str(results), "-o", str(tmp_path / "site"), "-j", "1"]) == 1


def test_a_run_read_broken_is_retried_even_if_restored_to_the_hashed_bytes(
    tiny_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner hashed good bytes, the loader read broken ones: the next build re-reads."""
    from reportgen.build import runs as run_stage

    results = shutil.copytree(tiny_tree, tmp_path / "results")
    out = tmp_path / "site"
    options = BuildOptions(results=results, out=out, jobs=1)
    build(options)
    source = results / SWEEPS / "run_01/results.json"
    good = source.read_bytes()
    original = run_stage.process_run

    def racy(job: Any) -> Any:
        if job.ref.id == f"{SWEEPS}/run_01":
            source.write_bytes(good[:100])  # broken while the loader reads it ...
            try:
                return original(job)
            finally:
                source.write_bytes(good)  # ... and restored before the next build
        return original(job)

    monkeypatch.setattr(run_stage, "process_run", racy)
    (results / SWEEPS / "run_01/notes.md").write_text("touch the run")  # so it is re-read
    racy_result = build(options)
    assert f"{SWEEPS}/run_01" in racy_result.stale_runs
    monkeypatch.setattr(run_stage, "process_run", original)
    again = build(options)
    assert not again.up_to_date
    assert f"{SWEEPS}/run_01" not in again.failed_runs + again.stale_runs
    assert _manifest(out)[f"{SWEEPS}/run_01"]["status"] == "ok"
    assert build(options).up_to_date is False  # the tiny tree's own bad runs are retried too


def test_a_failing_index_chart_does_not_stop_the_site(
    tiny_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise ValueError("EtaSummary needs a finite eta")

    monkeypatch.setattr("reportgen.pages.site.index_charts", broken)
    result = build(BuildOptions(results=tiny_tree, out=tmp_path / "site", jobs=1))
    assert sorted(result.failed_runs) == [f"{SWEEPS}/run_bad", f"{SWEEPS}/run_huge"]
    assert (tmp_path / "site/index.html").is_file()
    assert _manifest(tmp_path / "site")[f"{SWEEPS}/run_01"]["status"] == "ok"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--seed", str(2**80), "--seed: must be between 0 and 4,294,967,295"),
        ("--seed", "-1", "--seed: must be between 0 and 4,294,967,295"),
        ("--draws", "100000000", "--draws: must be between 1 and 100,000"),
        ("--draws", "0", "--draws: must be between 1 and 100,000"),
        ("--max-file-size", str(2**70), "--max-file-size: must be between 1 and 65,536"),
        ("--max-points", "0", "--max-points: must be between 1 and 1,000,000"),
        ("--jobs", "100000", "--jobs: must be between 1 and 256"),
        ("--seed", "1e3", "--seed: not an integer: '1e3'"),
    ],
)
def test_cli_options_are_validated_up_front(
    tiny_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str,
    message: str,
) -> None:  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["build", str(tiny_tree), "-o", str(tmp_path / "site"), f"{option}={value}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "site").exists()


def test_check_option_limits_and_sample_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["check", str(tmp_path), "--max-file-size", "0"],
        ["demo", "-o", str(tmp_path / "d"), "--sample-seed", "-5"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
        assert "must be between" in capsys.readouterr().err


def test_closed_pipe_ends_quietly(tiny_tree: Path) -> None:
    for reader in ("head -1", "true"):
        done = subprocess.run(
            f"{sys.executable} -m reportgen check {tiny_tree} | {reader}",
            shell=True, capture_output=True, text=True, timeout=120, check=False, env=_env(),
        )  # fmt: skip
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


FIGURES_AFTER_VL_CONVERT = """
import sys
from pathlib import Path
from reportgen.build import BuildOptions, build
tree, out = Path(sys.argv[1]), Path(sys.argv[2])
# the first build makes the Vega bundle in this process, the second exports figures in it:
# each leaves vl-convert's runtime running here before the next build starts its workers
for step, jobs in enumerate((2, 1, 2)):
    result = build(BuildOptions(results=tree, out=out / str(step), jobs=jobs, figures=("svg",)))
    print(result.rebuilt, sum(p.endswith(".svg") for p in result.written))
"""


@pytest.mark.slow
def test_figures_with_workers_after_this_process_ran_vl_convert(
    tiny_tree: Path, tmp_path: Path
) -> None:
    """A forked worker hangs in vl-convert if its parent ran it: the default ``-j`` on a first
    build with ``--figures`` did, for ever."""
    env = {**_env(), "REPORTGEN_CACHE_DIR": str(tmp_path / "cache")}  # no Vega bundle yet
    done = subprocess.run(
        [sys.executable, "-c", FIGURES_AFTER_VL_CONVERT, str(tiny_tree), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    )  # fmt: skip
    counts = [tuple(map(int, line.split())) for line in done.stdout.splitlines()]
    assert len(counts) == 3 and all(rebuilt == 4 for rebuilt, _ in counts), done.stdout
    assert counts[0][1] > 0 and len({svgs for _, svgs in counts}) == 1, done.stdout


# The build, paused in the main process as it stores its first run (staging written to): it
# writes one byte to the test's pipe, then waits until it is interrupted. Interrupting a build
# with workers is test_supervision's; one process keeps this pause point free of their timing.
_PAUSED_BUILD = """
import os, signal, sys, threading
signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal, even if inherited off
import reportgen.build.runs as build
signal_fd = int(sys.argv[1])
store = build._store_run
def paused(*args, **kwargs):
    os.write(signal_fd, b"x")
    os.close(signal_fd)
    threading.Event().wait()
    return store(*args, **kwargs)
build._store_run = paused
from reportgen.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_ctrl_c_is_one_line_exit_130_and_leaves_no_staging(
    sample_tree: Path, tmp_path: Path
) -> None:
    """Interrupted at a known point mid-build (no race with a build that finishes first)."""
    out = tmp_path / "site"
    paused, signal_fd = os.pipe()
    command = [sys.executable, "-c", _PAUSED_BUILD, str(signal_fd),
               "build", str(sample_tree), "-o", str(out), "-j", "1"]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        pass_fds=(signal_fd,),
    )  # fmt: skip
    os.close(signal_fd)
    try:
        with _deadline(240):
            reached = os.read(paused, 1)  # b"": the build ended without reaching the pause
    except BaseException:
        process.kill()
        process.communicate()
        raise
    finally:
        os.close(paused)
    if reached != b"x":  # ended (or closed the pipe) before the pause: say how, never hang
        process.kill()
        pytest.fail(f"the build did not reach the pause: {process.communicate(timeout=30)}")
    assert len(list(tmp_path.glob(".site.staging-*"))) == 1
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr == "reportgen: interrupted\n"
    assert os.listdir(tmp_path) == []


def test_non_ascii_names_on_an_ascii_terminal(sample_tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    run = results / "grüppe_日本/run_01"
    shutil.copytree(sample_tree / SWEEPS / "run_01", run)
    (run / "results.json").write_text('{"sweep": [')  # so the name is printed in the report
    env = {**_env(), "PYTHONIOENCODING": "ascii"}
    for args in (("build", results, "-o", tmp_path / "site", "-j", "1"), ("check", results)):
        done = subprocess.run(
            [sys.executable, "-m", "reportgen", *map(str, args)],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert "gr\\xfcppe_\\u65e5\\u672c/run_01" in done.stdout


def test_run_pages_never_read_the_results_tree(sample_tree: Path, tmp_path: Path) -> None:
    """Loading reads notes, images, artifacts and the source hash; the page needs no tree."""
    from reportgen.analysis import analyze_run
    from reportgen.analysis.record import run_record
    from reportgen.build import BuildOptions as Options
    from reportgen.build import site_context
    from reportgen.pages.run import RunSettings, run_page

    root = tmp_path / "results"
    run_dir = root / "g/run_01"
    shutil.copytree(sample_tree / SWEEPS / "run_01", run_dir)
    (run_dir / "notes.md").write_text("# Observations\n\nη too large.\n")
    (run_dir / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (run_dir / "cv_a").mkdir()
    (run_dir / "cv_a/table.csv").write_text("a,b\n1,2\n")
    source = (run_dir / "results.json").read_bytes()
    tree, _ = discover(root)
    loaded = load_run(tree.runs[0], root)
    assert isinstance(loaded, Run)
    shutil.rmtree(root)  # from here on, nothing of the tree exists
    site = site_context(Options(results=root, out=tmp_path / "site"))
    analysis = analyze_run(loaded)
    output = run_page(analysis, run_record(analysis, "hash"), site, RunSettings(MAX_BYTES))
    assert output.content("runs/g/run_01/files/plot.png") == b"\x89PNG\r\n\x1a\nfake"
    assert output.content("runs/g/run_01/files/cv_a/table.csv") == b"a,b\n1,2\n"
    page = output.content("runs/g/run_01/index.html").decode()
    assert "Observations" in page and hashlib.sha256(source).hexdigest() in page


def _scaled(value: Any, factor: float) -> Any:
    if isinstance(value, float):
        return value * factor
    if isinstance(value, dict):
        return {k: _scaled(v, factor) for k, v in value.items()}
    if isinstance(value, list):
        return [_scaled(v, factor) for v in value]
    return value


def test_analysing_a_run_with_overflowing_values_raises_no_numpy_warning(
    sample_tree: Path, tmp_path: Path
) -> None:
    """Non-finite results become findings; numpy's floating-point warnings stay silent even for
    a caller of ``analyze_run`` who turns warnings into errors (a notebook, a test)."""
    import warnings

    import orjson

    run_dir = tmp_path / "results/g/run_01"
    shutil.copytree(sample_tree / "diagnostics_run/full_data/E_256/run_01", run_dir)
    document = orjson.loads((run_dir / "results.json").read_bytes())
    (run_dir / "results.json").write_bytes(orjson.dumps(_scaled(document, 1e200)))
    tree, _ = discover(tmp_path / "results")
    loaded = load_run(tree.runs[0], tmp_path / "results")
    assert isinstance(loaded, Run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = analyze_run(loaded)  # every float times 1e200 overflows its squares
    assert analysis.findings
