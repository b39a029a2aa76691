"""Nightly builds: incremental, deterministic, atomic, with last good pages and a change log.

What a one-run change rewrites (``test_one_changed_run_rewrites_only_its_files``): the run's own
page and summary.json (plus its contributions.csv and sample when their bytes changed), every
group page and summary.json above it, index.html, changes.html, changes.json and
``.reportgen/status.json``; diagnostics.html and manifest.json only when their content changed;
for a larger run of a batch comparison also its draws under ``.reportgen/memo/``. Every other
file is carried over as a hard link to the previous build's file (same inode, same mtime).

Byte identity covers the published site: every file except ``.reportgen/status.json``, the
build's private state, which records machine-local stat fingerprints (inode, mtime, ctime) and
the wall-clock time of each run's last good read (SOURCE_DATE_EPOCH makes that one stable).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

import reportgen.build
import reportgen.build.runs as run_stage
import reportgen.build.status as status_module
import reportgen.pages.assets as assets
from reportgen import __version__
from reportgen.analysis import batch
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.record import RECORD_FORMAT, RunRecord
from reportgen.analysis.resample import resampled_sums, subset_weights
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.build import BuildOptions, BuildResult, RunJob, build, pool
from reportgen.build.cross_runs import CROSS_RUNS_PATH
from reportgen.build.status import STATUS_PATH, stat_rows
from reportgen.build.status_file import read_status
from reportgen.cli import main
from reportgen.demo import bench_tree
from reportgen.findings import Finding
from reportgen.install_cache import install_cache
from reportgen.pages.changes import changes_view
from reportgen.pages.paths import (
    group_partials,
    group_record,
    run_fragment,
    run_record,
    run_sample,
)
from reportgen.pages.render import environment
from reportgen.write import WriteError, memo_path
from tests.formats import assert_valid

SWEEP = "comparison_across_learning_rates/run_01"
SWEEP_GROUP = "comparison_across_learning_rates"
PRIVATE = frozenset({STATUS_PATH})
DAY_NS = 86_400 * 10**9


# --- helpers ---------------------------------------------------------------------------------


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def files_of(site: Path) -> dict[str, bytes]:
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }


def published(site: Path) -> dict[str, bytes]:
    return {k: v for k, v in files_of(site).items() if k not in PRIVATE}


def snapshot(site: Path) -> dict[str, tuple[int, int]]:
    """inode and mtime of every file: unchanged means not rewritten."""
    result = {}
    for path in sorted(site.rglob("*")):
        if path.is_file():
            st = path.stat()
            result[path.relative_to(site).as_posix()] = (st.st_ino, st.st_mtime_ns)
    return result


def run_dir(run_id: str) -> str:
    return f"runs/{run_id}"


def options(results: Path, out: Path, **kwargs: Any) -> BuildOptions:
    return BuildOptions(results=results, out=out, jobs=kwargs.pop("jobs", 1), **kwargs)


def bump_true(results: Path, run: str) -> None:
    """Change one published number of ``run``: ΔH_true at its first η, by 1 %."""
    path = results / run / "results.json"
    data = orjson.loads(path.read_bytes())
    data["true"]["entries"][0]["delta_h_true"] *= 1.01
    path.write_bytes(orjson.dumps(data))


def draws_memos(paths: Iterable[str]) -> list[str]:
    """The draws memos among ``paths`` (one per larger run and smaller batch size)."""
    return sorted(p for p in paths if p.startswith(".reportgen/memo/") and "/draws-" in p)


def dists_memos(paths: Iterable[str]) -> list[str]:
    """The memos of pooled distributions among ``paths`` (one per η and pair of sizes)."""
    return sorted(p for p in paths if p.startswith(".reportgen/memo/") and "/dists-" in p)


def edit_sweep(tree: Path, factor: float = 1.5) -> None:
    """Change one published number of one run: ΔH_true at the third η of SWEEP."""
    path = tree / SWEEP / "results.json"
    data = orjson.loads(path.read_bytes())
    data["sweep"][2]["deltaH_true"] *= factor
    path.write_bytes(orjson.dumps(data))


# --- fixtures --------------------------------------------------------------------------------


# fingerprint files written a moment ago too (the tests write trees just before building)
pytestmark = pytest.mark.usefixtures("no_racy_window")


@pytest.fixture(scope="module")
def tree(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample tree, copied and backdated (read-only: copy again to mutate)."""
    return copy_tree(sample_tree, tmp_path_factory.mktemp("tree") / "results")


@pytest.fixture(scope="module")
def site(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildResult]:
    out = tmp_path_factory.mktemp("site") / "site"
    return out, build(options(tree, out))


# --- incremental -----------------------------------------------------------------------------


def test_noop_rebuild_rewrites_nothing(
    site: tuple[Path, BuildResult], tree: Path, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, first = site
    assert first.rebuilt == first.runs == 9 and not first.up_to_date
    before = snapshot(out)
    import reportgen.load as load_module

    def never_read(*args: object) -> None:
        pytest.fail("a results file was read")

    for reader in ("load_run", "read_results"):
        monkeypatch.setattr(load_module, reader, never_read)
    result = build(options(tree, out))
    assert result.up_to_date and result.rebuilt == 0
    assert result.written == [] and rendered == []
    assert snapshot(out) == before
    assert "up to date" in next(result.report_lines())


def test_one_changed_run_rewrites_only_its_files(
    tree: Path, site: tuple[Path, BuildResult], tmp_path: Path, rendered: list[str]
) -> None:
    results = copy_tree(tree, tmp_path / "results")
    out = tmp_path / "site"
    shutil.copytree(site[0], out)
    edit_sweep(results)
    before = snapshot(out)
    result = build(options(results, out))

    assert rendered == [SWEEP]
    assert result.rebuilt == 1 and result.groups_rendered == 1
    assert sorted(result.written) == sorted(
        [
            f"{run_dir(SWEEP)}/index.html",
            f"{run_dir(SWEEP)}/summary.json",
            run_record(SWEEP),  # what the next build's cross-run pages read of it
            f"groups/{SWEEP_GROUP}/index.html",
            f"groups/{SWEEP_GROUP}/summary.json",
            group_record(SWEEP_GROUP),  # the group's statistics, its summary derived from them
            group_partials(SWEEP_GROUP),  # and their part its parent merges
            "index.html",
            "changes.html",
            "changes.json",
            CROSS_RUNS_PATH,  # every run's cross-run record, the changed one's new
            STATUS_PATH,
        ]
    )
    after = snapshot(out)
    assert set(after) == set(before)
    untouched = set(before) - set(result.written)
    assert {p for p in untouched if after[p] != before[p]} == set()

    changes = orjson.loads((out / "changes.json").read_bytes())
    assert_valid("changes", changes)
    assert changes["new"] == [] and changes["removed"] == [] and not changes["first_build"]
    (changed,) = changes["changed"]
    assert changed["id"] == SWEEP
    (moved,) = changed["moved"]
    assert moved["field"] == "delta_h_true" and moved["eta"] == pytest.approx(1.6e-6)
    assert moved["after"] == pytest.approx(1.5 * moved["before"])
    page = (out / "changes.html").read_text()
    assert SWEEP in page and "Numbers that moved" in page

    # and the next build has nothing left to do
    again = build(options(results, out))
    assert again.up_to_date and again.written == []


FORMAT_LINE = b'"format":%d' % status_module.STATUS_FORMAT

LARGE = "diagnostics_run/full_data/E_512/run_01"


def test_incremental_build_equals_a_cold_build(
    tree: Path, site: tuple[Path, BuildResult], tmp_path: Path, rendered: list[str]
) -> None:
    """Change a larger run of a batch comparison: only its draws are recomputed, and the result
    is byte for byte what a cold build of the changed tree gives (but the change log)."""
    results = copy_tree(tree, tmp_path / "results")
    out = tmp_path / "site"
    shutil.copytree(site[0], out)
    bump_true(results, LARGE)
    result = build(options(results, out))
    assert rendered == [LARGE]
    memos = sorted(p for p in files_of(out) if p.startswith(".reportgen/memo/"))
    written = [p for p in result.written if p.startswith(".reportgen/memo/")]
    # the changed run's draws, and only those: one memo holds every η of one larger run against
    # one smaller batch size, and the sample tree compares it with one smaller size; and the
    # distributions its draws are pooled into, made again (at each η, with the other runs')
    assert len(draws_memos(written)) == 1 and draws_memos(written)[0] in memos
    assert dists_memos(memos) == []  # the sample tree's pools are made again, never kept

    cold = tmp_path / "cold"
    build(options(results, cold))
    incremental, fresh = published(out), published(cold)
    assert incremental.keys() == fresh.keys()
    differing = sorted(k for k in fresh if incremental[k] != fresh[k])
    assert differing == ["changes.html", "changes.json"]


def test_a_deleted_site_file_is_restored(mini: tuple[Path, Path], rendered: list[str]) -> None:
    results, out = mini
    (out / "diagnostics.html").unlink()
    result = build(options(results, out))
    assert not result.up_to_date and rendered == [] and "diagnostics.html" in result.written
    assert set(result.written) <= {"diagnostics.html", "changes.html", "changes.json", STATUS_PATH}
    assert (out / "diagnostics.html").is_file()


def test_touched_but_identical_input_is_hashed_not_rebuilt(
    mini: tuple[Path, Path], rendered: list[str]
) -> None:
    results, out = mini
    site_before = {k: v for k, v in snapshot(out).items() if k != STATUS_PATH}
    source = results / SWEEP / "results.json"
    source.write_bytes(source.read_bytes())  # new mtime, same bytes
    os.utime(source, ns=(time.time_ns() - DAY_NS // 2,) * 2)
    result = build(options(results, out))
    assert result.up_to_date and rendered == []
    assert {k: v for k, v in snapshot(out).items() if k != STATUS_PATH} == site_before
    # the new fingerprint is recorded, so the next build does not hash again
    status = read_status(out)
    stats = status.runs[SWEEP].stats if status is not None else None
    assert stats is not None and stat_rows(stats)[0].mtime_ns == source.stat().st_mtime_ns


def test_files_modified_just_now_are_always_hashed(
    mini: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written within the racy window may change again unseen: no fingerprint for it."""
    results, out = mini
    monkeypatch.setattr(status_module, "RACY_NS", 3_600 * 10**9)
    source = results / SWEEP / "results.json"
    source.write_bytes(source.read_bytes())
    assert build(options(results, out)).up_to_date
    status = read_status(out)
    assert status is not None and status.runs[SWEEP].stats is None
    edit_sweep(results)  # so a same-size, same-tick edit is still caught: the bytes are hashed
    assert build(options(results, out)).rebuilt == 1


def test_new_and_removed_runs(mini: tuple[Path, Path], rendered: list[str]) -> None:
    results, out = mini
    shutil.copytree(results / SWEEP, results / SWEEP_GROUP / "run_09")
    shutil.rmtree(results / SWEEP_GROUP / "run_02")
    result = build(options(results, out))
    new_id, old_id = f"{SWEEP_GROUP}/run_09", f"{SWEEP_GROUP}/run_02"
    assert rendered == [new_id] and result.rebuilt == 1
    assert not (out / run_dir(old_id)).exists()
    assert (out / run_dir(new_id) / "index.html").is_file()
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert {r["id"] for r in manifest["runs"]} == set(read_status(out).runs)  # type: ignore[union-attr]
    assert old_id not in {r["id"] for r in manifest["runs"]}
    changes = orjson.loads((out / "changes.json").read_bytes())
    assert changes["new"] == [new_id] and changes["removed"] == [old_id]
    page = (out / "changes.html").read_text()
    assert "New runs (1)" in page and "Removed runs (1)" in page


@pytest.mark.parametrize("change", ["assets", "version", "title", "force"])
def test_settings_templates_version_or_force_rebuild_everything(
    change: str, mini: tuple[Path, Path], rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    results, out = mini
    kwargs: dict[str, Any] = {}
    if change == "assets":  # a template or static asset changed
        monkeypatch.setattr(assets, "assets_fingerprint", lambda: "changed templates")
    elif change == "version":
        monkeypatch.setattr(reportgen.build, "__version__", __version__ + ".post1")
    elif change == "title":
        kwargs["title"] = "Another title"
    else:
        kwargs["force"] = True
    result = build(options(results, out, **kwargs))
    assert sorted(rendered) == sorted(read_status(out).runs)  # type: ignore[union-attr]
    assert result.rebuilt == result.runs == 4 and result.groups_rendered == 3


def test_template_file_change_is_detected(
    mini: tuple[Path, Path], tmp_path: Path, rendered: list[str]
) -> None:
    """The real fingerprint: copy the templates, edit one, and every run is re-rendered."""
    import reportgen.pages.assets as assets
    import reportgen.pages.render as render

    results, out = mini
    templates = tmp_path / "templates"
    shutil.copytree(assets.templates_dir(), templates)
    caches = [render.environment, assets.assets_fingerprint]
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(assets, "templates_dir", lambda: templates)
            with (templates / "run.html").open("a") as handle:
                handle.write("{# changed #}\n")
            _clear(caches)
            result = build(options(results, out))
    finally:
        _clear(caches)
    assert result.rebuilt == 4 and len(rendered) == 4


def test_code_fingerprint_cache_follows_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached fingerprint is reused only while every file's stat is unchanged, and is
    stored only for files older than the racy window; the value is always the contents'."""
    import reportgen.pages.assets as assets

    templates = tmp_path / "templates"
    shutil.copytree(assets.templates_dir(), templates)
    monkeypatch.setattr(assets, "templates_dir", lambda: templates)
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path / "cache"))
    page = templates / "run.html"
    original = page.read_bytes()

    def fingerprint() -> str:
        assets.assets_fingerprint.cache_clear()
        return assets.assets_fingerprint()

    def stamp(path: Path, seconds_ago: int) -> None:
        # a distinct mtime per version: a same-size rewrite within one timestamp tick would
        # otherwise keep the stat (what the racy window guards against outside tests)
        old = time.time_ns() - seconds_ago * 1_000_000_000
        os.utime(path, ns=(old, old))

    try:
        first = fingerprint()  # files written just now: computed, not cached
        assert list((tmp_path / "cache/sealed").glob("fingerprint-*")) == []
        monkeypatch.setattr(assets, "RACY_NS", 0)
        assert fingerprint() == first  # the same contents, now cached
        (cached,) = (tmp_path / "cache/sealed").glob("fingerprint-*")
        stored = install_cache().get(cached.name)
        assert stored is not None
        signature, value = stored.decode().split()
        assert value == first
        forged = f"{signature} {'1' * 64}\n".encode()
        cached.write_bytes(cached.read_bytes().replace(stored, forged))
        assert fingerprint() == first  # an entry this user did not seal is never believed
        install_cache().put(cached.name, f"{signature} {'0' * 64}\n".encode())
        assert fingerprint() == "0" * 64  # unchanged stats: a sealed entry is believed
        page.write_bytes(original.replace(b"<", b">", 1))  # same size, new bytes
        stamp(page, 60)
        changed = fingerprint()
        assert changed not in (first, "0" * 64)
        page.write_bytes(original)
        stamp(page, 30)
        assert fingerprint() == first
    finally:
        assets.assets_fingerprint.cache_clear()


def test_code_fingerprint_covers_the_libraries_that_write_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Altair (the chart specs), Python-Markdown and nh3 (markdown made HTML): a new install of
    one changes the stats signed and, once the contents are hashed again, the fingerprint."""
    import reportgen.pages.assets as assets

    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(assets, "RACY_NS", 10**30)  # nothing settles: hashed on every call
    signed = {path.parent.name for path in assets._library_files()}
    assert {"altair", "markdown", "nh3"} <= signed

    def fingerprint() -> str:
        assets.assets_fingerprint.cache_clear()
        return assets.assets_fingerprint()

    try:
        before = fingerprint()
        upgraded = assets.library_versions().replace("markdown ", "markdown 99.")
        monkeypatch.setattr(assets, "library_versions", lambda: upgraded)
        assert fingerprint() != before
    finally:
        assets.assets_fingerprint.cache_clear()


def _clear(caches: list[Any]) -> None:
    for cached in caches:
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda b: b"\x00garbage{", id="garbage"),
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b.replace(FORMAT_LINE, b'"format": 1', 1), id="format"),
        pytest.param(lambda b: b"{" + FORMAT_LINE + b', "runs": []}', id="shape"),
        pytest.param(lambda b: b"[]", id="list"),
    ],
)
def test_malformed_status_means_full_rebuild(
    corrupt: Callable[[bytes], bytes], mini: tuple[Path, Path], rendered: list[str]
) -> None:
    results, out = mini
    status = out / STATUS_PATH
    status.write_bytes(corrupt(status.read_bytes()))
    assert read_status(out) is None
    result = build(options(results, out))
    assert result.rebuilt == 4 and len(rendered) == 4
    rebuilt = read_status(out)
    assert rebuilt is not None and len(rebuilt.runs) == 4  # a whole, readable status again


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.unlink(),
        lambda path: path.write_bytes(path.read_bytes()[:-40]),
        lambda path: path.write_bytes(
            path.read_bytes().replace(
                f'"format":{RECORD_FORMAT}'.encode(), f'"format":{RECORD_FORMAT - 1}'.encode()
            )
        ),
        lambda path: path.write_bytes(
            re.sub(
                rb"(\d\.)(\d)",
                lambda m: m[1] + (b"2" if m[2] == b"1" else b"1"),
                path.read_bytes(),
                count=1,
            )
        ),
    ],
    ids=["missing", "truncated", "older-format", "tampered-number"],
)
def test_a_damaged_record_is_a_cache_miss(
    damage: Callable[[Path], object], mini: tuple[Path, Path], rendered: list[str]
) -> None:
    """The status file no longer holds records: a run whose record.json cannot be read back is
    read again (only that run), and the site comes out as it was. (A no-op build reads no
    record, so a missing page makes this build do work.)"""
    results, out = mini
    log = {"changes.html", "changes.json"}  # a second build's log says "nothing changed"
    before = {k: v for k, v in published(out).items() if k not in log}
    victim = sorted(read_status(out).runs)[1]  # type: ignore[union-attr]
    damage(out / run_record(victim))
    (out / "diagnostics.html").unlink()
    result = build(options(results, out))
    assert rendered == [victim] and result.rebuilt == 1
    assert {k: v for k, v in published(out).items() if k not in log} == before


def test_status_file_holds_digests_not_records(site: tuple[Path, BuildResult]) -> None:
    """Per run the status file keeps hashes, flags and file names; the record is its own file,
    and the digest in the status is the sha256 of exactly those bytes."""
    out = site[0]
    data = orjson.loads((out / STATUS_PATH).read_bytes())
    for run_id, run in data["runs"].items():
        assert "record" not in run and run_record(run_id) in run["files"]
        content = (out / run_record(run_id)).read_bytes()
        assert hashlib.sha256(content).hexdigest() == run["record_hash"]
        assert RunRecord.from_bytes(content).id == run_id
    assert len(data["runs"]) == 9


def test_cross_run_records_hold_repeated_values_once(site: tuple[Path, BuildResult]) -> None:
    """What every run's slim record repeats (parameter pairs, SE method labels, normalisation)
    is one object across records read back separately, and the slim record equals the full
    one in everything the cross-run pages read."""
    out = site[0]
    status = read_status(out)
    assert status is not None
    stored = [RunRecord.from_bytes((out / run_record(r)).read_bytes()) for r in status.runs]
    full = [r for r in stored if r.uncertainty is not None and r.parameters]
    slim = [r.for_cross_run() for r in full]
    repeated = [
        *(p for r in slim for p in r.parameters),
        *(u.se_method for r in slim for u in r.uncertainty.etas),  # type: ignore[union-attr]
        *(r.normalization for r in slim),
    ]
    first_seen: dict[object, object] = {}
    assert all(first_seen.setdefault(v, v) is v for v in repeated)
    assert len(repeated) > 2 * len(first_seen)  # the sample does repeat them
    for before, cut in zip(full, slim, strict=True):
        assert (cut.parameters, cut.uncertainty, cut.normalization, cut.etas) == (
            before.parameters,
            before.uncertainty,
            before.normalization,
            before.etas,
        )


# --- last good pages -------------------------------------------------------------------------


def test_unreadable_run_keeps_its_last_good_page(
    mini: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    results, out = mini
    page = out / run_dir(SWEEP) / "index.html"
    good_page = page.read_bytes()
    good_summary = orjson.loads((out / run_dir(SWEEP) / "summary.json").read_bytes())
    last_good = read_status(out).runs[SWEEP].last_good  # type: ignore[union-attr]
    assert last_good
    assert not (out / run_fragment(SWEEP)).exists()  # a good page holds its own content
    source = results / SWEEP / "results.json"
    good_source = source.read_bytes()
    source.write_bytes(good_source[: len(good_source) // 2])  # truncated mid-write

    args = ["build", str(results), "-o", str(out), "-j", "1"]
    assert main(args) == 1
    assert "kept its last good page" in capsys.readouterr().out
    stale_page = page.read_bytes()
    assert b"stale-banner" in stale_page and last_good.encode() in stale_page
    # the last good page, with the banner the page template adds before its content
    banner = re.compile(rb'<div class="stale-banner".*?</div>\n', re.S)
    assert len(banner.findall(stale_page)) == 1
    assert banner.sub(b"", stale_page, count=1) == good_page
    summary = orjson.loads((out / run_dir(SWEEP) / "summary.json").read_bytes())
    assert_valid("run-summary", summary)  # the stale shape: the last good numbers, and why
    assert summary["stale"]["last_good"] == last_good and summary["status"] == "error"
    assert summary["etas"] == good_summary["etas"]  # the last good data
    index = (out / "index.html").read_text()
    assert 'id="stale"' in index and SWEEP in index.split('id="stale"')[1].split("</section>")[0]
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert_valid("manifest", manifest)
    assert next(r for r in manifest["runs"] if r["id"] == SWEEP).get("stale") is True
    assert (out / run_fragment(SWEEP)).is_file()  # the good page is gone: its content is kept

    # still unreadable tomorrow: nothing to redo, still exit 1, still stale
    assert main(args) == 1
    assert b"stale-banner" in page.read_bytes()

    source.write_bytes(good_source)  # readable again: rebuilt normally
    assert main(args) == 0
    assert page.read_bytes() == good_page
    assert not read_status(out).runs[SWEEP].stale  # type: ignore[union-attr]


def test_a_tampered_stored_page_is_never_shown_or_placed(
    mini: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The page content kept for a stale run is used only with the digest the status holds."""
    results, out = mini
    page = out / run_dir(SWEEP) / "index.html"
    good_page = page.read_bytes()
    source = results / SWEEP / "results.json"
    source.write_bytes(source.read_bytes()[:100])  # unreadable tonight: the stale path
    args = ["build", str(results), "-o", str(out), "-j", "1"]
    assert main(args) == 1 and b"stale-banner" in page.read_bytes()
    fragment = out / run_fragment(SWEEP)
    stored = orjson.loads(fragment.read_bytes())
    canary = "CANARY-stored-page-4f1c"
    fragment.write_bytes(orjson.dumps(stored | {"path": "pwned.html", "content": canary}))
    capsys.readouterr()
    assert main(args) == 1  # still unreadable: the stale path again
    # the stored content is not the bytes the status vouches for: tonight's error page stands
    assert f"could not read: {SWEEP}\n" in capsys.readouterr().out
    assert not (out / "pwned.html").exists()
    shown = {k: v for k, v in published(out).items() if not k.startswith(".reportgen/")}
    assert not any(canary.encode() in content for content in shown.values())
    assert page.read_bytes() != good_page and b"stale-banner" not in page.read_bytes()


def test_a_status_naming_a_path_outside_the_site_is_a_full_rebuild(
    mini: tuple[Path, Path], rendered: list[str]
) -> None:
    results, out = mini
    status = orjson.loads((out / STATUS_PATH).read_bytes())
    status["runs"][SWEEP]["files"].append("../outside.html")
    (out / STATUS_PATH).write_bytes(orjson.dumps(status))
    result = build(options(results, out))
    assert result.rebuilt == 4 and sorted(rendered) == sorted(status["runs"])
    assert not (out.parent / "outside.html").exists()


def test_unreadable_run_without_a_good_page_gets_an_error_page(mini: tuple[Path, Path]) -> None:
    results, out = mini
    shutil.copytree(results / SWEEP, results / SWEEP_GROUP / "run_07")
    (results / SWEEP_GROUP / "run_07" / "results.json").write_bytes(b'{"sweep": [')
    result = build(options(results, out))
    run_id = f"{SWEEP_GROUP}/run_07"
    assert result.failed_runs == [run_id] and result.stale_runs == []
    assert b"stale-banner" not in (out / run_dir(run_id) / "index.html").read_bytes()
    summary = orjson.loads((out / run_dir(run_id) / "summary.json").read_bytes())
    assert_valid("run-summary", summary)  # the error shape
    assert summary["status"] == "error" and "stale" not in summary


# --- determinism -----------------------------------------------------------------------------


def test_two_builds_are_byte_identical(
    site: tuple[Path, BuildResult], tree: Path, tmp_path: Path
) -> None:
    """Same inputs, another tree location, another output: the same published bytes."""
    other_tree = copy_tree(tree, tmp_path / "elsewhere" / "results")
    out = tmp_path / "other-site"
    build(options(other_tree, out))
    first, second = published(site[0]), published(out)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    for content in second.values():  # no build-machine paths in any file
        assert str(tmp_path).encode() not in content and str(tree).encode() not in content
    # the private status differs only in machine-local fields
    assert _portable_status(site[0]) == _portable_status(out)


def _portable_status(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((out / STATUS_PATH).read_bytes())
    for run in data["runs"].values():
        run.pop("stats")
        run.pop("last_good")
    return data


def test_jobs_1_and_2_are_byte_identical(
    site: tuple[Path, BuildResult], tree: Path, tmp_path: Path, always_pooled: None
) -> None:
    out = tmp_path / "parallel"
    result = build(options(tree, out, jobs=2))
    assert result.rebuilt == 9
    assert published(out) == published(site[0])


def test_source_date_epoch_stamp_is_shown_and_stable(
    mini_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first, second = tmp_path / "a", tmp_path / "b"
    build(options(mini_tree, first))
    build(options(mini_tree, second))
    assert "built 2023-11-14 22:13 UTC" in (first / "index.html").read_text()
    assert published(first) == published(second)
    status = read_status(first)
    assert status is not None and {r.last_good for r in status.runs.values()} == {
        "2023-11-14 22:13 UTC"
    }
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700086400")  # a new stamp is a new page footer
    result = build(options(mini_tree, first))
    assert (
        result.rebuilt == 4 and "built 2023-11-15 22:13 UTC" in (first / "index.html").read_text()
    )
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    build(options(mini_tree, second))
    assert "· built" not in (second / "index.html").read_text()


# --- atomic publish and the output directory --------------------------------------------------


def test_refuses_foreign_output_and_touches_nothing_outside(
    mini_tree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    neighbour = tmp_path / "neighbour.txt"
    neighbour.write_text("keep me")
    with pytest.raises(WriteError, match="not a reportgen site"):
        build(options(mini_tree, out))
    assert (out / "thesis.tex").read_text() == "precious"
    build(options(mini_tree, out, force=True))
    assert not (out / "thesis.tex").exists() and (out / "index.html").is_file()
    assert neighbour.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neighbour.txt", "out"]


def test_the_swapped_in_site_keeps_the_output_permissions(mini: tuple[Path, Path]) -> None:
    results, out = mini
    out.chmod(0o750)
    edit_sweep(results)
    assert build(options(results, out)).rebuilt == 1
    assert out.stat().st_mode & 0o777 == 0o750


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftovers_of_dead_builds_are_removed(mini: tuple[Path, Path]) -> None:
    results, out = mini
    dead, alive = _dead_pid(), os.getppid()
    leftovers = [out.parent / f".site.staging-{dead}", out.parent / f".site.old-{dead}"]
    live = out.parent / f".site.staging-{alive}"
    unrelated = out.parent / ".site.staging-notapid"
    for directory in (*leftovers, live, unrelated):
        (directory / "runs").mkdir(parents=True)
    build(options(results, out))
    assert not any(p.exists() for p in leftovers)
    assert live.is_dir() and unrelated.is_dir()


def test_publish_interrupted_between_fallback_renames_is_recovered(
    mini: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without renameat2 the swap is two renames; a build dying between them loses nothing."""
    import reportgen.swap as swap

    results, out = mini
    edit_sweep(results)
    good = published(out)
    real_rename = os.rename

    def die_after_first(src: Any, dst: Any) -> None:
        real_rename(src, dst)
        raise KeyboardInterrupt("killed between the renames")

    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)
    monkeypatch.setattr(os, "rename", die_after_first)
    with pytest.raises(KeyboardInterrupt):
        build(options(results, out))
    monkeypatch.undo()
    assert not out.exists()
    backups = list(out.parent.glob(".site.old-*"))
    assert len(backups) == 1 and published(backups[0]) == good

    result = build(options(results, out))  # recovers the old site first, then updates it
    assert result.rebuilt == 1
    assert [p.name for p in out.parent.glob(".site.*")] == [".site.spare"]  # the replaced site


def test_build_killed_after_the_swap_leaves_the_new_site(
    mini: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted after the swap, before the replaced site is set aside: OUT is already the
    new site, and the replaced one is removed on the way out."""
    import reportgen.write as write

    results, out = mini
    edit_sweep(results)

    def die_setting_aside(replaced: Path, out: Path) -> None:
        raise KeyboardInterrupt("killed before the old site was set aside")

    monkeypatch.setattr(write, "set_aside", die_setting_aside)
    with pytest.raises(KeyboardInterrupt):
        build(options(results, out))
    monkeypatch.undo()
    changes = orjson.loads((out / "changes.json").read_bytes())
    assert [c["id"] for c in changes["changed"]] == [SWEEP]  # the new site is in place
    assert not list(out.parent.glob(".site.*"))
    assert build(options(results, out)).up_to_date


CHANGE_LOG = ("changes.html", "changes.json")


@dataclass(frozen=True)
class KillSetup:
    results: Path
    out: Path
    seconds: float  # how long the full rebuild that gets killed takes
    new_site: dict[str, bytes]  # what that rebuild publishes when it is not killed


@pytest.fixture(scope="module")
def kill_setup(tmp_path_factory: pytest.TempPathFactory) -> KillSetup:
    """A 20-run bench tree built by the CLI, and (elsewhere) the site the killed rebuild makes."""
    root = tmp_path_factory.mktemp("bench")
    results = bench_tree(root / "results", seed=3, runs=20)
    out = root / "site"
    assert _cli(results, out, "--title", "reference").wait(timeout=600) == 0
    reference = root / "reference"
    shutil.copytree(out, reference)
    started = time.perf_counter()
    assert _cli(results, reference, *KILLED_BUILD).wait(timeout=600) == 0
    return KillSetup(results, out, time.perf_counter() - started, published(reference))


KILLED_BUILD = ("--force", "--title", "killed")


def _cli(results: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "reportgen", "build", str(results), "-o", str(out), "-q"]
    return subprocess.Popen([*command, *extra], env=env, start_new_session=True)


def _without(files: dict[str, bytes], names: tuple[str, ...]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k not in names}


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.02, 0.25, 0.5, 0.75, 0.9, 0.98])
def test_killed_build_leaves_a_complete_site(kill_setup: KillSetup, fraction: float) -> None:
    """kill -9 a full rebuild at several moments: OUT is always a complete site, the previous
    one until the new one is swapped in whole (renameat2), never a mix or a partial one."""
    results, out = kill_setup.results, kill_setup.out
    before = published(out)
    process = _cli(results, out, *KILLED_BUILD)
    time.sleep(fraction * kill_setup.seconds)
    process.send_signal(signal.SIGKILL)  # kill -9 (a no-op if it already finished)
    process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its workers too, if they outlived it
    after = published(out)
    if after != before:  # swapped in before the kill: exactly the new site
        assert _without(after, CHANGE_LOG) == _without(kill_setup.new_site, CHANGE_LOG)
    assert read_status(out) is not None
    spare = f".{out.name}.spare"  # the site an earlier build replaced, kept for the next
    leftovers = [p for p in out.parent.glob(f".{out.name}.*") if p.name != spare]
    assert all(p.name.endswith(f"-{process.pid}") for p in leftovers)

    restore = _cli(results, out, "--title", "reference")  # cleans up; rebuilds if swapped
    assert restore.wait(timeout=600) == 0
    assert {p.name for p in out.parent.glob(f".{out.name}.*")} <= {spare}
    restored = published(out)
    names = CHANGE_LOG if after != before else ()
    assert _without(restored, names) == _without(before, names)


# --- changes and the parallel map -------------------------------------------------------------


def _record(run_id: str, input_hash: str = "h", **fields: Any) -> RunRecord:
    findings = fields.pop("findings", ())
    return RunRecord(run_id, f"{run_id}/results.json", "ok", input_hash, "0", findings, **fields)


def _eta(eta: float, true: float, linear: float) -> EtaSummary:
    return EtaSummary(eta, true, linear, None, None, None, None, None, None, None)


def test_changes_list_new_removed_moved_and_findings() -> None:
    finding_a = Finding("ess-low", "warning", "ESS low", 1e-6)
    finding_b = Finding("sign-flip", "error", "sign", None)
    before = {
        "a": _record("a", etas=(_eta(1e-6, 1.0, 2.0),), findings=(finding_a,)),
        "gone": _record("gone"),
    }
    errors = RunUncertainty(etas=(EtaUncertainty(1e-6, se_true=0.2, se_linear=0.3),))
    after = {
        "a": _record(
            "a", "h2", etas=(_eta(1e-6, 1.5, 2.0),), findings=(finding_b,), uncertainty=errors
        ),
        "fresh": _record("fresh"),
    }
    view = changes_view(before, after)
    data = view.to_json()
    assert_valid("changes", data)
    assert data["new"] == ["fresh"] and data["removed"] == ["gone"] and not data["first_build"]
    (change,) = data["changed"]
    # each build's value with its own SE (the first build had none)
    assert change["moved"] == [
        {
            "eta": 1e-6,
            "field": "delta_h_true",
            "before": 1.0,
            "after": 1.5,
            "se_before": None,
            "se_after": 0.2,
        }
    ]
    env = environment()
    bare = env.from_string("{% block content %}{% endblock %}")  # the table, not the site
    page = env.get_template("changes.html").render(view=view, layout=bare)
    assert '<td data-value="1.5">1.5 <span class="se">± 0.2</span></td>' in page
    assert [f["id"] for f in change["findings_appeared"]] == ["sign-flip"]
    assert [f["id"] for f in change["findings_cleared"]] == ["ess-low"]
    assert changes_view({}, after).to_json()["first_build"] is True
    assert changes_view(after, after).to_json()["changed"] == []


def _echo_job(job: RunJob) -> Any:
    return job.input_hash


def test_parallel_map_keeps_order_and_bounds_work_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_stage, "process_run", _echo_job)
    pulled: list[int] = []

    def jobs() -> Iterator[RunJob]:
        for i in range(40):
            pulled.append(i)
            yield RunJob(None, Path(), None, None, str(i))  # type: ignore[arg-type]

    outputs: Iterator[Any] = run_stage.map_runs(jobs(), 40, 2)
    first = next(outputs)
    assert first == "0"
    assert len(pulled) <= pool.WINDOW_PER_WORKER * 2 + 1
    assert [first, *outputs] == [str(i) for i in range(40)]


# --- performance changes keep results ----------------------------------------------------------


def test_subset_sums_stay_exact_when_keys_tie_at_the_cut() -> None:
    class TiedRng:
        """Every key equal: the threshold picks all rows, the exact path picks ``size``."""

        def random(self, shape: tuple[int, int]) -> Any:
            return np.full(shape, 0.5)

    weights = subset_weights(20, 5)
    sums = resampled_sums(np.ones((20, 1)), weights, 3, TiedRng())  # type: ignore[arg-type]
    assert sums[:, 0].tolist() == [5.0, 5.0, 5.0]


def test_batch_comparison_is_the_same_from_disk_with_threads_and_memo(
    site: tuple[Path, BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed samples, drawing threads and reused draws and distributions change nothing in
    the numbers."""
    from reportgen.analysis import batch_dist

    monkeypatch.setattr(batch_dist, "MEMO_VALUES", 0)  # the sample tree's pools kept too
    from reportgen.memos import MemoReader, npy_memo
    from reportgen.pages import serialize
    from reportgen.write import SiteWriter, VerifiedFiles

    out = site[0]
    status = read_status(out)
    assert status is not None
    stored = [RunRecord.from_bytes((out / run_record(r)).read_bytes()) for r in status.runs]
    records = {r.id: r for r in stored if r.was_read}
    points = [p for r in records.values() if (p := r.points).etas]
    digests = {
        run_sample(r): digest
        for r, run in status.runs.items()
        if (digest := run.digest(run_sample(r))) is not None
    }
    files = VerifiedFiles(out, digests)
    in_memory = [
        s
        for p in points
        if run_sample(p.run_id) in digests
        and (s := serialize.sample_from_npy((out / run_sample(p.run_id)).read_bytes(), p.run_id))
    ]
    from_disk = [
        t
        for p in points
        if (t := serialize.stored_sample(p.run_id, records[p.run_id].sample, files))
    ]
    assert len(from_disk) == len(in_memory) >= 2

    def rows(samples: Any, **kwargs: Any) -> list[Any]:
        compared = batch.compare_batch_sizes(points, samples, draws=200, seed=3, **kwargs)
        return [b.to_json() for b in compared]

    expected = rows(in_memory)
    assert expected and rows(from_disk, workers=2) == expected
    copy = tmp_path / "site"
    shutil.copytree(out, copy)
    computed = MemoReader(copy, {})
    assert rows(from_disk, memo=npy_memo(computed.memo, "test")) == expected
    from_files = len(computed.computed)  # one per larger run
    assert rows(in_memory, memo=npy_memo(computed.memo, "test")) == expected
    assert from_files >= 1 and len(computed.computed) == 2 * from_files  # each its own digest
    assert computed.reused == {}
    with SiteWriter(copy) as writer:
        stored_paths = writer.store_memos(computed.computed, (), {})
        writer.publish()
    assert len(stored_paths) == len(computed.computed)
    kinds = {p.split("/")[-1].split("-")[0] for p in writer.log.written}
    assert kinds == {"test", "dists"}  # the draws under their memo's prefix, the distributions
    assert all(p.startswith(".reportgen/memo/") for p in writer.log.written)
    assert MemoReader(copy, {}).stored.read(next(iter(stored_paths))) is None  # no digest: unread
    reread = MemoReader(copy, stored_paths)  # the draws now come back from the site
    assert rows(from_disk, memo=npy_memo(reread.memo, "test")) == expected
    assert reread.reused == {k: v for k, v in computed.computed.items() if k in reread.reused}
    assert reread.reused and reread.computed == {}
    with SiteWriter(copy) as writer:  # reused memos are carried over by name, not rewritten
        kept_paths = writer.store_memos({}, reread.reused, stored_paths)
        writer.publish()
    assert len(kept_paths) == len(reread.reused) and writer.log.written == []
    assert sorted(writer.log.kept) == sorted(kept_paths)
    victim = sorted(reread.reused)[0]  # rescaled draws under the memo's own name
    rescaled = np.load(copy / memo_path(victim), allow_pickle=False) * 2
    with (copy / memo_path(victim)).open("wb") as file:
        np.save(file, rescaled, allow_pickle=False)
    checked = MemoReader(copy, stored_paths)
    assert rows(from_disk, memo=npy_memo(checked.memo, "test")) == expected
    assert victim in checked.computed and victim not in checked.reused


@pytest.mark.slow
def test_one_changed_larger_run_redraws_only_its_own_subsets(
    tmp_path: Path, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group of five larger runs (scale tree: E_32 against E_16): changing one recomputes its
    draws only; the other four runs' draws come from their memos without their arrays being
    read, and the numbers equal a cold build's (so a one-run change costs the same in a group
    of any size)."""
    from reportgen.demo import scale_tree
    from reportgen.pages.serialize import StoredSample

    read: list[str] = []
    load = StoredSample.load

    def recording_load(self: StoredSample) -> Any:
        read.append(self.run_id)
        return load(self)

    monkeypatch.setattr(StoredSample, "load", recording_load)

    results = scale_tree(tmp_path / "results", seed=0, runs=10)
    out = tmp_path / "site"
    build(options(results, out))
    memos = draws_memos(files_of(out))
    assert len(memos) == 5  # one per larger run: all its η in one memo
    before = snapshot(out)
    changed = "scale/block_00/sweep_00/E_32/run_03"
    bump_true(results, changed)
    assert len(set(read)) == 5
    rendered.clear()
    read.clear()
    result = build(options(results, out))
    assert rendered == [changed]
    assert set(read) == {changed}
    written = draws_memos(result.written)
    after = draws_memos(files_of(out))
    assert len(written) == 1 and written[0] not in memos
    kept = sorted(set(memos) & set(after))
    assert len(kept) == 4 and all(snapshot(out)[p] == before[p] for p in kept)  # not rewritten
    cold = tmp_path / "cold"
    build(options(results, cold))
    group = "groups/scale/block_00/sweep_00/summary.json"
    assert (out / group).read_bytes() == (cold / group).read_bytes()


def test_a_changed_smaller_run_reuses_every_pooled_distribution(
    tree: Path, tmp_path: Path, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The larger runs' draws, and so the distributions they are pooled into, do not depend on
    a smaller run: changing one writes no memo, reads every one, and gives a cold build's
    comparison."""
    from reportgen.analysis import batch_dist

    monkeypatch.setattr(batch_dist, "MEMO_VALUES", 0)  # the sample tree's pools are small
    results = copy_tree(tree, tmp_path / "results")
    out = tmp_path / "site"
    build(options(results, out))
    rendered.clear()
    before = snapshot(out)
    assert dists_memos(before)
    small = "diagnostics_run/full_data/E_256/run_01"
    bump_true(results, small)
    result = build(options(results, out))
    assert rendered == [small]
    assert [p for p in result.written if p.startswith(".reportgen/memo/")] == []
    after = snapshot(out)
    assert dists_memos(after) == dists_memos(before)
    assert all(after[p] == before[p] for p in dists_memos(after))
    cold = tmp_path / "cold"
    build(options(results, cold))
    group = "groups/diagnostics_run/full_data/summary.json"
    assert (out / group).read_bytes() == (cold / group).read_bytes()
    batch = orjson.loads((out / group).read_bytes())["batch_comparison"]
    assert batch and all(row["n_values"] > 0 for row in batch)
    victim = dists_memos(after)[0]  # doubled, still a valid .npy: not believed, made again
    with (out / victim).open("r+b") as file:
        rows = np.load(file, allow_pickle=False)
        file.seek(0)
        np.save(file, rows * 2, allow_pickle=False)
    bump_true(results, small)
    result = build(options(results, out))
    assert victim in result.written
    build(options(results, cold))
    assert (out / group).read_bytes() == (cold / group).read_bytes()


@pytest.mark.slow
def test_a_tampered_sample_or_memo_never_reaches_a_batch_comparison(
    tmp_path: Path, rendered: list[str]
) -> None:
    """A rescaled sample.npy or draws memo in OUT is a cache miss: the numbers are a cold
    build's, the tampered run is read again, the tampered draws are drawn again."""
    from reportgen.demo import scale_tree

    results = scale_tree(tmp_path / "results", seed=0, runs=10)
    out = tmp_path / "site"
    build(options(results, out))
    block = "scale/block_00/sweep_00/E_32"
    changed, resampled = f"{block}/run_03", f"{block}/run_01"
    sample = out / run_sample(resampled)
    with sample.open("r+b") as file:  # every value, η included, doubled: still a valid .npy
        table = np.load(file, allow_pickle=False)
        file.seek(0)
        np.save(file, table * 2, allow_pickle=False)
    memos = sorted(p for p in files_of(out) if p.startswith(".reportgen/memo/"))
    for memo in memos:
        with (out / memo).open("r+b") as file:
            draws = np.load(file, allow_pickle=False)
            file.seek(0)
            np.save(file, draws * 2, allow_pickle=False)
    bump_true(results, changed)
    rendered.clear()
    result = build(options(results, out))
    assert sorted(rendered) == sorted([changed, resampled])
    again = set(memos) & {p for p in files_of(out) if p.startswith(".reportgen/memo/")}
    assert len(again) >= 3 and again <= set(result.written)  # drawn again, not carried over
    cold = tmp_path / "cold"
    build(options(results, cold))
    group = "groups/scale/block_00/sweep_00/summary.json"
    assert (out / group).read_bytes() == (cold / group).read_bytes()
