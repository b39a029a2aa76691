"""The next runner's SNIS blocks end to end: clip sweeps, the symmetric finite difference and
the update's gradient clipping, against computations written out here from the stored arrays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.demo.next_runner import CLIP_PUBLISHED_RUN, PUBLISHED_CLIP
from reportgen.demo.snis_next import CLIP_THRESHOLDS, FD_OFFSET_IN_GDOTV, NEXT_BASE, NEXT_CASES

SNIS = NEXT_BASE
CLIP_PUBLISHED = CLIP_PUBLISHED_RUN  # a run of its own group, named by its full id
CLIP_C = 10.0
RUNS = [case.name for case in NEXT_CASES]


def _rel(run: str) -> str:
    """A run of the SNIS batch by its name, any other by its full id."""
    return run if "/" in run else f"{SNIS}/{run}"


def results_of(tree: Path, run: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tree / _rel(run) / "results.json").read_text())
    return data


def summary_of(site: Path, run: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / "runs" / _rel(run) / "summary.json").read_text())
    return data


def page_of(site: Path, run: str) -> str:
    return (site / "runs" / _rel(run) / "index.html").read_text()


def arrays(entry: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    d = entry["diagnostics"]
    return (
        np.asarray(d["log_weights"]),
        np.asarray(d["h_new"]),
        np.asarray(d["h_base"]),
        np.asarray(d["token_counts"], dtype=float),
        float(d["base_entropy"]),
    )


def clipped_delta(entry: dict[str, Any], clip: float, keep: np.ndarray | None = None) -> float:
    """ΔH_true with weights min(exp(log w), clip), the baseline Σh_base/ΣT re-estimated, over
    the sequences ``keep`` (all by default)."""
    log_w, h_new, h_base, t, _ = arrays(entry)
    if keep is not None:
        log_w, h_new, h_base, t = log_w[keep], h_new[keep], h_base[keep], t[keep]
    w = np.minimum(np.exp(log_w), clip)
    return float((w @ h_new) / (w @ t) - h_base.sum() / t.sum())


def jackknife_se(statistic: Any, n: int) -> float:
    """Leave-one-out jackknife SE of ``statistic(keep)`` over n sequences."""
    values = np.array([statistic(np.delete(np.arange(n), i)) for i in range(n)])
    return float(np.sqrt((n - 1) / n * np.sum((values - values.mean()) ** 2)))


# --- clip sweeps -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("run", RUNS)
def test_every_clip_override_is_the_stored_arrays_clipped_there(
    next_runner_site: tuple[Path, Path], run: str
) -> None:
    tree, site = next_runner_site
    entries = results_of(tree, run)["true"]["entries"]
    sweeps = summary_of(site, run)["clip_sweeps"]
    assert [s["eta"] for s in sweeps] == [e["eta"] for e in entries]
    for entry, sweep in zip(entries, sweeps, strict=True):
        by_threshold = {p["threshold"]: p for p in sweep["points"]}
        assert sorted(by_threshold) == sorted([*CLIP_THRESHOLDS, CLIP_C])
        assert (
            by_threshold[CLIP_C]["published"]
            and by_threshold[CLIP_C]["delta_h_true"] == (entry["delta_h_true"])
        )
        log_w = np.asarray(entry["diagnostics"]["log_weights"])
        for clip in CLIP_THRESHOLDS:
            point = by_threshold[clip]
            w = np.minimum(np.exp(log_w), clip)
            assert point["delta_h_true"] == pytest.approx(clipped_delta(entry, clip), rel=1e-12)
            assert point["ess"] == pytest.approx(w.sum() ** 2 / np.sum(w**2), rel=1e-12)
            assert point["clip_fraction"] == pytest.approx(np.mean(np.exp(log_w) > clip))
            assert point["ess_fraction"] == pytest.approx(point["ess"] / log_w.size, rel=1e-12)


@pytest.mark.slow
def test_the_clip_verdict_is_judged_around_the_published_threshold(
    next_runner_site: tuple[Path, Path],
) -> None:
    """run_01's heavy weights move ΔH_true across the whole sweep by more than its SE, but only
    at thresholds well below the published clip_c = 10, which clips nothing: not sensitive.
    The run published at clip_c = 3 is, between 2 and 5."""
    _tree, site = next_runner_site
    for run in [*RUNS, CLIP_PUBLISHED]:
        summary = summary_of(site, run)
        se_true = {row["eta"]: row["se_true"] for row in summary["etas"]}
        sweeps = summary["clip_sweeps"]
        for sweep in sweeps:
            points = sweep["points"]
            values = [p["delta_h_true"] for p in points]
            assert sweep["span"] == pytest.approx(max(values) - min(values), rel=1e-12, abs=1e-18)
            assert sweep["se_true"] == se_true[sweep["eta"]]
            k = next(i for i, p in enumerate(points) if p["published"])
            near = points[max(k - 1, 0) : k + 2]
            assert sweep["compared"] == [p["threshold"] for p in near]
            local = max(p["delta_h_true"] for p in near) - min(p["delta_h_true"] for p in near)
            assert sweep["local_span"] == pytest.approx(local, rel=1e-12, abs=1e-18)
            expected = "sensitive" if local > se_true[sweep["eta"]] else "stable"
            assert sweep["sensitivity"] == expected
        sensitive = [s["eta"] for s in sweeps if s["sensitivity"] == "sensitive"]
        found = [f for f in summary["findings"] if f["id"] == "truth-clip-sensitive"]
        if run == CLIP_PUBLISHED:
            assert sensitive == [max(s["eta"] for s in sweeps)]
            assert [f["etas"] for f in found] == [sensitive]
        else:
            assert sensitive == [] and found == []
        if run == "run_01_clip_sensitive":
            assert sweeps[-1]["compared"] == [5.0, 10.0, 20.0]
            assert sweeps[-1]["span"] > sweeps[-1]["se_true"] > sweeps[-1]["local_span"]
            assert 'id="clip"' in page_of(site, run)


@pytest.mark.slow
def test_the_sensitive_sweep_exceeds_an_independent_jackknife_se_too(
    next_runner_site: tuple[Path, Path],
) -> None:
    """The verdict does not hang on the delta method: a leave-one-out jackknife of ΔH_true at
    the sensitive η gives nearly the same SE (both estimate the same first-order variance)."""
    tree, site = next_runner_site
    entry = results_of(tree, CLIP_PUBLISHED)["true"]["entries"][-1]
    sweep = summary_of(site, CLIP_PUBLISHED)["clip_sweeps"][-1]
    n = len(entry["diagnostics"]["h_new"])
    jack = jackknife_se(lambda keep: clipped_delta(entry, PUBLISHED_CLIP, keep), n)
    # jackknife and delta method differ by O(1/n) relative (0.4 % at n = 256), more where a
    # few heavy weights carry the estimate
    assert sweep["se_true"] == pytest.approx(jack, rel=0.05)
    assert sweep["local_span"] > 1.5 * jack


# --- the symmetric finite difference -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("run", RUNS)
def test_the_finite_difference_rows_are_the_files_numbers(
    next_runner_site: tuple[Path, Path], run: str
) -> None:
    tree, site = next_runner_site
    results = results_of(tree, run)
    summary = summary_of(site, run)
    gdotv = results["approx"]["delta_h_per_lr"]
    half_vhvv = 0.5 * results["approx"]["quadratic"]["vHvv"]
    vhvv = np.asarray(results["approx"]["quadratic"]["per_sequence_vhvv"])
    se_half_vhvv = 0.5 * np.sqrt(vhvv.size) * np.std(vhvv, ddof=1)
    se_diff = {row["eta"]: row["se_diff_linear"] for row in summary["etas"]}
    se_true = {row["eta"]: row["se_true"] for row in summary["etas"]}
    for entry, row in zip(results["true"]["entries"], summary["symmetric_fd"], strict=True):
        fd = entry["diagnostics"]["symmetric_fd"]
        assert row["entry_eta"] == entry["eta"]
        if fd["eta"] == 0.0:  # not measured: null, never the file's 0.0
            assert row["verdict"] == "not measured"
            assert row["finite_difference"] is None and row["z"] is None and row["eta"] is None
            continue
        eta, plus, minus = fd["eta"], fd["delta_plus"], fd["delta_minus"]
        assert row["finite_difference"] == pytest.approx((plus - minus) / (2 * eta), rel=1e-12)
        assert row["gdotv"] == gdotv
        assert row["difference"] == pytest.approx(row["finite_difference"] - gdotv, rel=1e-12)
        assert row["se_difference"] == pytest.approx(se_diff[eta] / eta, rel=1e-12)
        assert row["se_fd"] == pytest.approx(se_true[eta] / eta, rel=1e-12)
        assert row["z"] == pytest.approx(row["difference"] / row["se_difference"], rel=1e-12)
        assert row["curvature_coefficient"] == pytest.approx((plus + minus) / (2 * eta**2))
        assert row["half_vhvv"] == pytest.approx(half_vhvv, rel=1e-12)
        # ½·vHvv sums over the sequences: the SE of that total, not of the mean shard
        assert row["se_half_vhvv"] == pytest.approx(se_half_vhvv, rel=1e-9)
        expected = "disagrees" if abs(row["z"]) > 1.959963984540054 else row["verdict"]
        assert row["verdict"] == expected


@pytest.mark.slow
def test_the_planted_fd_offset_is_found_and_the_others_are_not(
    next_runner_site: tuple[Path, Path],
) -> None:
    _tree, site = next_runner_site
    for case in NEXT_CASES:
        summary = summary_of(site, case.name)
        rows = [r for r in summary["symmetric_fd"] if r["verdict"] != "not measured"]
        found = [f for f in summary["findings"] if f["id"] == "linear-term-disagrees-with-fd"]
        if case.fd_offset:
            gdotv = rows[0]["gdotv"]
            # the curvature-free FD recovers Δ₊/η − ½·vHvv·η plus the planted offset
            assert all(r["verdict"] == "disagrees" for r in rows)
            assert [f["etas"] for f in found] == [[r["entry_eta"] for r in rows]]
            for row in rows:
                expected = row["delta_plus"] / row["eta"] - row["half_vhvv"] * row["eta"]
                offset = row["finite_difference"] - expected
                assert offset == pytest.approx(FD_OFFSET_IN_GDOTV * abs(gdotv), rel=1e-9)
        else:
            # the SE of g·v is as large as g·v itself (as on the real runs): no power to agree
            assert found == [] and {r["verdict"] for r in rows} == {"inconclusive"}
            for row in rows:
                assert row["curvature_coefficient"] == pytest.approx(row["half_vhvv"], rel=1e-6)


@pytest.mark.slow
def test_the_fd_section_names_the_side_and_shows_the_se_of_the_total(
    next_runner_site: tuple[Path, Path],
) -> None:
    _tree, site = next_runner_site
    run = "run_02_fd_disagrees"
    rows = [r for r in summary_of(site, run)["symmetric_fd"] if r["verdict"] != "not measured"]
    page = page_of(site, run)
    section = page[page.index('<section id="fd"') :]
    section = section[: section.index("</section>")]
    # ½·vHvv = −1.131e7 with the SE of the sum over sequences, 5.1e6 (½·se_vHvv was 1.761e5)
    assert section.count('−1.131e7 <span class="se">± 5.1e6</span>') == len(rows)
    assert "1.761e5" not in section
    assert section.count("<td>the −η truth Δ₋</td>") == len(rows)
    assert 'p = 1.039 <span class="se">± 0.069</span>' in section or "p = 1.039 ± 0.069" in section


@pytest.mark.slow
def test_the_fd_difference_se_agrees_with_a_jackknife_of_the_paired_difference(
    next_runner_site: tuple[Path, Path],
) -> None:
    """se_diff_linear(η)/η, the paired SE the FD comparison uses, against a leave-one-out
    jackknife of (linear − true)(η)/η written out here."""
    tree, site = next_runner_site
    results = results_of(tree, "run_03_stable")
    entry = results["true"]["entries"][0]
    row = summary_of(site, "run_03_stable")["symmetric_fd"][0]
    gdotv = np.asarray([r["gdotv"] for r in results["approx"]["per_sequence"]])
    eta = entry["eta"]
    n = gdotv.size

    # the linear term is a sum over sequences: a leave-one-out copy rescales it to n sequences
    def scaled(keep: np.ndarray) -> float:
        return float(gdotv[keep].sum() * n / keep.size * eta - clipped_delta(entry, CLIP_C, keep))

    jack = jackknife_se(scaled, n) / eta
    assert row["se_difference"] == pytest.approx(jack, rel=0.02)  # O(1/n): 0.4 % at n = 256


# --- update facts, config and fields -----------------------------------------------------------


@pytest.mark.slow
def test_gradient_clipping_and_the_tf_batch_size_are_on_the_page(
    next_runner_site: tuple[Path, Path],
) -> None:
    tree, site = next_runner_site
    for case in NEXT_CASES:
        results = results_of(tree, case.name)
        clip = results["update"]["gradient_clip"]
        update = summary_of(site, case.name)["update"]
        assert update["source"] == "update"
        assert update["gradient_clip"] == clip | {"applied": clip["applied_scale"] < 1.0}
        assert update["per_sequence_count"] == results["update"]["per_sequence"]["count"]
        page = page_of(site, case.name)
        applied = "applied" if case.gradient_clipped else "not applied"
        assert f"<dt>Gradient clipping</dt><dd>{applied}</dd>" in page
        # the config is run_01's own, borrowed by its siblings
        assert "<dt>Ground-truth teacher-forcing batch size</dt><dd>8</dd>" in page
        assert "<dt>SNIS clip threshold (config)</dt><dd>10</dd>" in page


@pytest.mark.slow
def test_the_next_runner_files_have_no_unrecognised_field(
    next_runner_site: tuple[Path, Path],
) -> None:
    _, site = next_runner_site
    manifest = json.loads((site / "manifest.json").read_text())
    for run in manifest["runs"]:
        summary = json.loads((site / run["summary"]).read_text())
        assert summary["unrecognised_fields"] == [], run["id"]
        assert summary["unrecognised_fields_total"] == 0
