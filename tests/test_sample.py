"""Tests for the deterministic sample/bench results trees in ``reportgen.demo``."""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from reportgen.demo import (
    PNG_SIGNATURE,
    SAMPLE_ETAS,
    bench_tree,
    generate_cv_results,
    generate_sample_tree,
    generate_snis_results,
    generate_sweep_results,
    png_bytes,
)

SNIS = "diagnostics_run/full_data"
CV = "CVs_and_gdotv/run1"
SWEEP = "comparison_across_learning_rates"

EXPECTED_SMALL = sorted(
    [
        f"{SNIS}/E_256/run_01/config.yaml",
        f"{SNIS}/E_256/run_01/plan.json",
        f"{SNIS}/E_256/run_01/results.json",
        f"{SNIS}/E_256/run_02/plan.json",
        f"{SNIS}/E_256/run_02/results.json",
        f"{SNIS}/E_256/run_03/plan.json",
        f"{SNIS}/E_256/run_03/results.json",
        f"{SNIS}/E_512/run_01/config.yaml",
        f"{SNIS}/E_512/run_01/notes.md",
        f"{SNIS}/E_512/run_01/plan.json",
        f"{SNIS}/E_512/run_01/results.json",
        f"{SNIS}/E_512/run_02/plan.json",
        f"{SNIS}/E_512/run_02/results.json",
        f"{SNIS}/notebooks/analysis.ipynb",
        "diagnostics_run/helper.py",
        f"{SWEEP}/data.npy",
        f"{SWEEP}/run_01/config.yaml",
        f"{SWEEP}/run_01/results.json",
        f"{SWEEP}/run_02/config.yaml",
        f"{SWEEP}/run_02/results.json",
        f"{CV}/cv_runs_aggregate.csv",
        f"{CV}/cv_runs_aggregate.json",
        f"{CV}/run_01/config.yaml",
        f"{CV}/run_01/results.json",
        f"{CV}/run_02/config.yaml",
        f"{CV}/run_02/results.json",
    ]
)
CV_FOLDER_FILES = {"cv_feature_stats.csv", "cv_per_seq.csv", "cv_summary.json", "hist_yi.png"}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_sample_tree(tmp_path_factory.mktemp("a") / "tree", seed=0)


@pytest.fixture(scope="module")
def snis_runs(sample: Path) -> dict[str, dict[str, Any]]:
    paths = sorted((sample / SNIS).glob("E_*/run_*/results.json"))
    return {p.parent.relative_to(sample / SNIS).as_posix(): _load(p) for p in paths}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bench_tree(tmp_path_factory.mktemp("b") / "bench", seed=3, runs=50)


# --- determinism and layout ------------------------------------------------------------------


def test_same_seed_gives_byte_identical_tree(sample: Path, tmp_path: Path) -> None:
    again = generate_sample_tree(tmp_path / "again", seed=0)
    assert _files(again) == _files(sample)


def test_different_seed_changes_the_numbers(sample: Path, tmp_path: Path) -> None:
    other = _files(generate_sample_tree(tmp_path / "other", seed=1))
    ours = _files(sample)

    def layout(files: dict[str, bytes]) -> list[str]:  # which scatter plots: the data decide
        return sorted(name for name in files if "/scatter_" not in name)

    assert layout(other) == layout(ours)
    changed = {k for k in layout(ours) if ours[k] != other[k]}
    assert f"{SNIS}/E_256/run_01/results.json" in changed
    assert f"{CV}/cv_runs_aggregate.csv" in changed


def test_small_tree_layout(sample: Path) -> None:
    files = sorted(_files(sample))
    cv_files = [f for f in files if "/cv_2025" in f]
    assert sorted(set(files) - set(cv_files)) == EXPECTED_SMALL
    folders = {f.rsplit("/", 1)[0] for f in cv_files}
    assert folders == {
        f"{CV}/run_01/cv_20250915_000501",
        f"{CV}/run_02/cv_20250915_001413",
    }
    for folder in folders:
        names = {f.rsplit("/", 1)[1] for f in cv_files if f.startswith(folder + "/")}
        assert names >= CV_FOLDER_FILES
        assert len([n for n in names if n.startswith("scatter_")]) == 3


def test_root_must_be_empty_and_scale_known(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("occupied")
    with pytest.raises(FileExistsError):
        generate_sample_tree(tmp_path)
    with pytest.raises(ValueError, match="scale"):
        generate_sample_tree(tmp_path / "new", scale="huge")


def test_json_is_written_like_the_real_files(sample: Path) -> None:
    path = sample / SNIS / "E_256/run_01/results.json"
    text = path.read_text()
    assert text == json.dumps(json.loads(text), indent=2)


def test_configs_are_realistic(sample: Path) -> None:
    config = yaml.safe_load((sample / SNIS / "E_256/run_01/config.yaml").read_text())
    assert config["approx_delta_h"]["normalize"] == "per_token"
    assert config["true_delta_h"]["report_per_token"] is True
    assert config["true_delta_h"]["clip_c"] == 10.0
    assert config["batch_config"]["B_E"] == 256
    big = yaml.safe_load((sample / SNIS / "E_512/run_01/config.yaml").read_text())
    assert big["batch_config"]["B_E"] == 512
    cv = yaml.safe_load((sample / CV / "run_01/config.yaml").read_text())
    assert cv["control_variates"]["features"][0] == "length_log"
    sweep = yaml.safe_load((sample / SWEEP / "run_01/config.yaml").read_text())
    assert sweep["estimator"]["eta_list"][-1] == pytest.approx(5.12e-5)


def test_notes_markdown_has_heading_list_and_table(sample: Path) -> None:
    lines = (sample / SNIS / "E_512/run_01/notes.md").read_text().splitlines()
    assert lines[0].startswith("# ")
    assert any(line.startswith("- ") for line in lines)
    assert any(line.startswith("|---") for line in lines)


# --- SNIS arithmetic -------------------------------------------------------------------------


def _guide_delta(diag: dict[str, Any]) -> tuple[float, np.ndarray]:
    """ΔH_true and per-sequence contributions, computed exactly as the field guide says."""
    weights = np.array(diag["normalized_weights"]) * diag["weights_sum"]
    t = np.array(diag["token_counts"])
    h_new = np.array(diag["h_new"])
    delta = (weights @ h_new) / (weights @ t) - diag["base_entropy"]
    contrib = (weights * h_new) / np.dot(t, weights) - (t / t.sum()) * diag["base_entropy"]
    return float(delta), contrib


def test_guide_formula_reproduces_delta_h_true(snis_runs: dict[str, dict[str, Any]]) -> None:
    assert len(snis_runs) == 5
    for name, res in snis_runs.items():
        entries = res["true"]["entries"]
        assert [e["eta"] for e in entries] == list(SAMPLE_ETAS), name
        for entry in entries:
            diag = entry["diagnostics"]
            delta, contrib = _guide_delta(diag)
            assert delta == pytest.approx(entry["delta_h_true"], rel=1e-12, abs=0), name
            assert contrib.sum() == pytest.approx(entry["delta_h_true"], rel=1e-12, abs=0)
            assert diag["delta_h_true"] == entry["delta_h_true"]


def test_snis_diagnostics_are_consistent(snis_runs: dict[str, dict[str, Any]]) -> None:
    for res in snis_runs.values():
        n = res["B_E"]
        for entry in res["true"]["entries"]:
            d = {k: np.array(v) for k, v in entry["diagnostics"].items() if isinstance(v, list)}
            scalars = entry["diagnostics"]
            assert all(len(v) == n for v in d.values())
            assert d["token_counts"].min() >= 20 and d["token_counts"].max() <= 150
            w = np.exp(d["log_weights"])
            assert scalars["clip_fraction"] == 0.0
            assert scalars["weights_sum"] == pytest.approx(w.sum(), rel=1e-12)
            assert d["normalized_weights"] == pytest.approx(w / w.sum(), rel=1e-12)
            assert scalars["ess"] == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)
            base = d["h_base"].sum() / d["token_counts"].sum()
            assert scalars["base_entropy"] == pytest.approx(base, rel=1e-14)
            assert d["delta_h_seq"] == pytest.approx(d["h_new"] - d["h_base"], abs=1e-12)
            stats = scalars["logweight_stats"]
            assert stats["min"] == d["log_weights"].min()
            assert stats["median"] == pytest.approx(np.median(d["log_weights"]))
            assert 0 < np.abs(d["log_weights"]).max() < 1.0


def test_delta_h_seq_grows_with_eta(snis_runs: dict[str, dict[str, Any]]) -> None:
    res = snis_runs["E_256/run_01"]
    totals = [np.sum(e["diagnostics"]["delta_h_seq"]) for e in res["true"]["entries"]]
    assert all(t < 0 for t in totals)
    assert np.all(np.diff(np.abs(totals)) > 0)


def test_approx_block_matches_its_parts(snis_runs: dict[str, dict[str, Any]]) -> None:
    for name, res in snis_runs.items():
        approx = res["approx"]
        t = np.array(res["true"]["entries"][0]["diagnostics"]["token_counts"])
        assert approx["num_tokens"] == int(t.sum())
        assert -750 < approx["delta_h_per_lr"] < -250, name
        if "per_sequence" not in approx:
            continue
        records = approx["per_sequence"]
        gdotv = np.array([r["gdotv"] for r in records])
        assert gdotv.sum() == pytest.approx(approx["delta_h_per_lr"], rel=1e-9)
        assert [r["index"] for r in records] == list(range(len(t)))
        assert [r["length"] for r in records] == t.tolist()
        meta = approx["per_sequence_meta"]
        assert meta["T_total"] == int(t.sum())
        assert meta["B_total"] == len(t)
        assert meta["scale"] == 1.0 / meta["T_total"]
        assert meta["H_base_mean"] == pytest.approx(
            res["true"]["entries"][0]["diagnostics"]["base_entropy"]
        )
        extras = [r["extras"] for r in records]
        parts = [e["wjlogp_sum"] + e["jH_sum"] + e["denom_corr_unscaled"] for e in extras]
        assert gdotv == pytest.approx(meta["scale"] * np.array(parts), abs=1e-9)


def test_quadratic_block(snis_runs: dict[str, dict[str, Any]]) -> None:
    for name, res in snis_runs.items():
        approx = res["approx"]
        quad = approx.get("quadratic")
        if quad is None:
            continue
        # the generator perturbs the quadratic pass's g·v by a uniform factor within ±0.25%
        assert quad["gdotv"] == pytest.approx(approx["delta_h_per_lr"], rel=2.5e-3 + 1e-12)
        assert quad["eta_star"] == pytest.approx(2 * abs(quad["gdotv"]) / abs(quad["vHvv"]))
        assert approx["eta_star"] == quad["eta_star"] and approx["used_quad"] is True
        assert set(quad["ratio_pred"]) == {str(e) for e in SAMPLE_ETAS}
        if "per_sequence" in approx:
            vhvv = [r["vhvv"] for r in approx["per_sequence"]]
            assert vhvv == quad["per_sequence_vhvv"]
            assert np.sum(vhvv) == pytest.approx(quad["vHvv"], rel=1e-6), name


def test_linear_approximation_is_decent_but_not_perfect(
    snis_runs: dict[str, dict[str, Any]],
) -> None:
    for name, res in snis_runs.items():
        g = res["approx"]["delta_h_per_lr"]
        errors = [
            abs(g * e["eta"] - e["delta_h_true"]) / abs(e["delta_h_true"])
            for e in res["true"]["entries"]
        ]
        assert max(errors) < 0.5, name
        assert np.median(errors) > 0.05, name
        for e in res["true"]["entries"]:
            assert 5e-5 < abs(e["delta_h_true"]) < 2e-2


def test_exactly_one_run_has_eta_above_eta_star(snis_runs: dict[str, dict[str, Any]]) -> None:
    over = [
        name
        for name, res in snis_runs.items()
        if "quadratic" in res["approx"]
        and max(SAMPLE_ETAS) > res["approx"]["quadratic"]["eta_star"]
    ]
    assert over == ["E_256/run_02"]


def test_run_variants(sample: Path, snis_runs: dict[str, dict[str, Any]]) -> None:
    no_quad = snis_runs["E_256/run_03"]
    assert no_quad["control_variates"] is None
    assert "quadratic" not in no_quad["approx"] and no_quad["approx"]["used_quad"] is False
    assert all("vhvv" not in r for r in no_quad["approx"]["per_sequence"])
    no_seq = snis_runs["E_512/run_02"]
    assert "per_sequence" not in no_seq["approx"]
    assert _load(sample / SNIS / "E_512/run_02/plan.json")["capture_per_sequence"] is False
    assert _load(sample / SNIS / "E_512/run_01/plan.json")["capture_per_sequence"] is True
    for res in snis_runs.values():
        assert (res["B_U"], res["G_U"]) == (64, 8)
        assert res["precision"] == {"runtime_dtype": "float32", "entropy_dtype": "float64"}
        assert res["approx"]["update_stats"] == res["update"]


@pytest.mark.parametrize("seed", range(12))
def test_snis_generator_over_seeds(seed: int) -> None:
    overshoot = seed % 3 == 0
    res = generate_snis_results(
        np.random.default_rng(seed), n_sequences=64, etas=SAMPLE_ETAS, overshoot=overshoot
    )
    approx = res["approx"]
    assert (approx["eta_star"] < max(SAMPLE_ETAS)) is overshoot
    for entry in res["true"]["entries"]:
        delta, _ = _guide_delta(entry["diagnostics"])
        assert delta == pytest.approx(entry["delta_h_true"], rel=1e-12, abs=0)
        error = abs(approx["delta_h_per_lr"] * entry["eta"] - delta) / abs(delta)
        # The overshoot truth bends through the linear prediction, so only bound it above.
        assert (overshoot or error > 0.05) and error < 0.5


def test_per_sequence_normalization_variant() -> None:
    res = generate_snis_results(
        np.random.default_rng(5), n_sequences=64, etas=[1e-6, 4e-6], per_token=False
    )
    assert res["approx"]["per_sequence_meta"]["scale"] == 1.0 / 64
    for entry in res["true"]["entries"]:
        diag = entry["diagnostics"]
        w = np.array(diag["normalized_weights"]) * diag["weights_sum"]
        delta = (w @ np.array(diag["h_new"])) / w.sum() - diag["base_entropy"]
        assert delta == pytest.approx(entry["delta_h_true"], rel=1e-12)
        assert diag["base_entropy"] == pytest.approx(np.mean(diag["h_base"]))


# --- η sweep ---------------------------------------------------------------------------------


def test_sweep_results(sample: Path) -> None:
    for run in ("run_01", "run_02"):
        res = _load(sample / SWEEP / run / "results.json")
        curv = res["curvature"]
        assert 6 <= len(res["sweep"]) <= 8
        assert curv["eta_star"] == pytest.approx(2 * abs(curv["gdotv"]) / abs(curv["vHvv"]))
        for row in res["sweep"]:
            eta = row["eta"]
            assert row["deltaH_approx_linear"] == pytest.approx(curv["gdotv"] * eta, rel=1e-12)
            assert row["deltaH_approx"] == row["deltaH_approx_linear"]
            linquad = curv["gdotv"] * eta + 0.5 * curv["vHvv"] * eta**2
            assert row["deltaH_approx_linquad"] == pytest.approx(linquad, rel=1e-12)
            assert 0.5 < row["deltaH_true"] / row["deltaH_approx_linear"] < 1.7
        assert res["variance"] == 0.0 and res["approx"] == {"h_approx_normalized": 0.0}


def test_generate_sweep_results_uses_given_etas() -> None:
    res = generate_sweep_results(np.random.default_rng(1), etas=[1e-6, 2e-6], b_e=256)
    assert [r["eta"] for r in res["sweep"]] == [1e-6, 2e-6]
    assert res["B_E"] == 256 and res["curvature"]["num_sequences"] == 256


# --- control variates ------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_cv_summary_is_computed_from_the_csv(sample: Path) -> None:
    for run in ("run_01", "run_02"):
        res = _load(sample / CV / run / "results.json")
        folder = Path(res["paths"]["csv_path"]).parent.name
        cv_dir = sample / CV / run / folder
        rows = _read_csv(cv_dir / "cv_per_seq.csv")
        summary = res["summary"]
        y = np.array([float(r["gdotv_i"]) for r in rows])
        assert summary["n_seqs"] == len(rows) == 48
        assert summary["mean_gdotv"] == pytest.approx(y.mean(), rel=1e-12)
        assert summary["var_gdotv"] == pytest.approx(y.var(ddof=1), rel=1e-12)
        diag = summary["diagnostics"]
        assert diag["gdotv_batch"] == pytest.approx(y.sum(), rel=1e-12)
        assert diag["se_batch"] == pytest.approx(np.sqrt(y.var(ddof=1) / len(y)), rel=1e-12)
        assert diag["meta"]["T_total"] == sum(int(r["length"]) for r in rows)
        for feat, corr in diag["all_features_stats"]["corr"].items():
            x = np.array([float(r[feat]) for r in rows])
            assert corr == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12), feat
            assert diag["all_features_stats"]["var_ratio_single"][feat] == pytest.approx(
                1 - corr**2
            )
        for feat, ratio in summary["var_after_cv"].items():
            assert ratio == pytest.approx(1 - summary["corr"][feat] ** 2)
        assert 0 < summary["var_after_cv_joint"] <= min(summary["var_after_cv"].values())
        assert diag["all_features_stats"]["rank_top_abs_corr"][0] == "wjlogp_sum"
        on_disk = _load(cv_dir / "cv_summary.json")
        assert (
            on_disk.pop("timestamp")
            == "2025-09-15T"
            + {
                "run_01": "00:05:01Z",
                "run_02": "00:14:13Z",
            }[run]
        )
        assert on_disk == summary
        stats = _read_csv(cv_dir / "cv_feature_stats.csv")
        assert {r["feature"] for r in stats if r["selected_in_joint"] == "1"} == set(
            summary["corr"]
        )
        for name, path in res["paths"].items():
            assert (cv_dir / Path(path).name).is_file(), name


def test_cv_aggregate_matches_runs(sample: Path) -> None:
    rows = _read_csv(sample / CV / "cv_runs_aggregate.csv")
    agg = _load(sample / CV / "cv_runs_aggregate.json")
    assert agg["n_runs"] == len(rows) == 2
    for row, run in zip(rows, ("run_01", "run_02"), strict=True):
        diag = _load(sample / CV / run / "results.json")["summary"]["diagnostics"]
        assert row["run_dir"].endswith(f"/{run}")
        assert float(row["gdotv_batch"]) == diag["gdotv_batch"]
        assert float(row["se_batch_after"]) == diag["se_batch_after_cv_joint"]
        assert float(row["VR_SE"]) == pytest.approx(
            diag["se_batch_after_cv_joint"] / diag["se_batch"]
        )
        assert row["features"] == ",".join(diag["features"])


def _png_size(data: bytes) -> tuple[int, int]:
    """Validate chunk CRCs and the pixel stream of an 8-bit RGB PNG; return (width, height)."""
    assert data.startswith(PNG_SIGNATURE)
    pos, chunks = len(PNG_SIGNATURE), {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks[tag] = body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    assert b"IEND" in chunks
    return width, height


def test_pngs_are_valid(sample: Path) -> None:
    pngs = sorted(sample.rglob("*.png"))
    assert len(pngs) == 8
    for path in pngs:
        assert _png_size(path.read_bytes()) == (96, 72)
    gradient = np.tile(np.arange(0, 250, 10, dtype=np.uint8)[None, :, None], (3, 1, 3))
    assert _png_size(png_bytes(gradient)) == (25, 3)


def test_generate_cv_results_artifacts() -> None:
    res, artifacts = generate_cv_results(np.random.default_rng(2), n_seqs=64)
    assert set(artifacts) >= CV_FOLDER_FILES
    assert artifacts["cv_per_seq.csv"].count(b"\n") == 65
    assert res["summary"]["diagnostics"]["meta"]["B_total"] == 64


# --- bench tree ------------------------------------------------------------------------------


def test_bench_tree_shape(bench: Path) -> None:
    results = sorted((bench / SNIS).glob("E_*/run_*/results.json"))
    assert len(results) == 50
    sizes = {"E_256": 256, "E_512": 512, "E_2048": 2048}
    assert {p.parent.parent.name for p in results} == set(sizes)
    allowed = {8e-7 * 2**k for k in range(8)}
    for path in results[::7]:
        res = _load(path)
        n = sizes[path.parent.parent.name]
        assert res["B_E"] == n
        entries = res["true"]["entries"]
        assert 2 <= len(entries) <= 8
        for entry in entries:
            assert entry["eta"] in allowed
            assert len(entry["diagnostics"]["token_counts"]) == n
            delta, _ = _guide_delta(entry["diagnostics"])
            assert delta == pytest.approx(entry["delta_h_true"], rel=1e-12, abs=0)
    for group in sizes:
        configs = sorted(p.parent.name for p in (bench / SNIS / group).glob("run_*/config.yaml"))
        assert configs == ["run_01"]
    assert len(list((bench / SWEEP).glob("run_*/results.json"))) == 2
    assert len(list((bench / CV).glob("run_*/cv_*/cv_per_seq.csv"))) == 2


@pytest.mark.slow
def test_demo_command_builds_the_sample_tree_of_its_seed(tmp_path: Path) -> None:
    """`reportgen demo --sample-seed S` builds the tree `generate_sample_tree(seed=S,
    inference_cases=True)` gives."""
    from reportgen.cli import main

    out = tmp_path / "demo-site"
    assert main(["demo", "-o", str(out), "-q", "--sample-seed", "3", "--bootstrap", "0"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    expected = generate_sample_tree(
        tmp_path / "results", seed=3, inference_cases=True, next_runner=True
    )
    sources = sorted(p.relative_to(expected).as_posix() for p in expected.rglob("results.json"))
    assert sorted(r["source"] for r in manifest["runs"]) == sources
    run = next(r for r in manifest["runs"] if r["id"].startswith("diagnostics_run/"))
    summary = json.loads((out / run["summary"]).read_text())
    entries = json.loads((expected / run["source"]).read_text())["true"]["entries"]
    seed0 = generate_sample_tree(tmp_path / "seed0", seed=0)
    default = json.loads((seed0 / run["source"]).read_text())["true"]["entries"]
    # the page's numbers are the seed-3 tree's, which are not the default seed's
    published = [row["delta_h_true"] for row in summary["etas"]]
    assert published == [e["delta_h_true"] for e in entries]
    assert published != [e["delta_h_true"] for e in default]
