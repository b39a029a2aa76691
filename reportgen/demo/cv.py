"""Synthetic control-variate results, their ``cv_*`` artifact folders and aggregates."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from reportgen.demo.common import (
    CV_COLUMNS,
    CV_DIRS,
    CV_FEATURES_ALL,
    CV_OUT_ROOT,
    FEATURES,
    PNG_SIGNATURE,
    SCATTER_CHOICES,
    SCATTER_FEATURES,
    FloatArray,
    JsonDict,
    f32,
    json_bytes,
    update_stats,
)
from reportgen.demo.snis import token_counts


def _cv_columns(
    rng: np.random.Generator, n: int, gdotv_sum: float | None = None, exact_target: bool = False
) -> tuple[dict[str, FloatArray], int]:
    """The columns of ``cv_per_seq.csv`` (gdotv correlates ~0.999 with ``wjlogp_sum``).

    ``gdotv_sum`` fixes Σ gdotv_i; ``exact_target`` makes gdotv_i = scale·(wjlogp_sum + jH_sum)
    hold as the CV runner defines it (the jH_sum drawn otherwise is independent of gdotv).
    """
    t = token_counts(rng, n).astype(np.float64)
    t_total = int(t.sum())
    scale = 1.0 / t_total
    rho = np.clip(rng.normal(0.45, 0.15, n), 0.05, 1.2)
    sum_logp = f32(-rho * t)
    mean_logp = sum_logp / t
    var_logp = f32(rho * 2.2 * np.exp(rng.normal(0.0, 0.3, n)))
    rb = f32(t * np.clip(rho * 1.1 + rng.normal(0.0, 0.05, n), 0.05, 1.3))
    sum_w = f32(0.2 * t**2 * np.exp(rng.normal(0.0, 0.5, n)))
    jh_sum = f32(-350.0 * t * np.exp(rng.normal(0.0, 0.4, n)))
    sum_abs = f32(450.0 * t * np.exp(rng.normal(0.0, 0.3, n)))
    z_v = (var_logp - var_logp.mean()) / var_logp.std()
    z_r = (rb / t - (rb / t).mean()) / (rb / t).std()
    sigma = 4.4e5 * scale
    mu = float(rng.uniform(-560.0, -350.0)) / n
    if gdotv_sum is not None:
        mu = gdotv_sum / n
    noise = -0.28 * z_v - 0.1 * z_r + 0.95 * rng.standard_normal(n)
    y = mu + sigma * (noise - noise.mean())
    wjlogp = f32((y - mu + 0.045 * sigma * rng.standard_normal(n)) / scale)
    if exact_target:
        jh_sum = f32(y / scale - wjlogp)
        y = scale * (wjlogp + jh_sum)
    cols = {
        "gdotv_i": y,
        "length": t,
        "sum_logp": sum_logp,
        "mean_logp": mean_logp,
        "var_logp": var_logp,
        "max_logp": f32(-(10.0 ** rng.uniform(-6.5, -3.6, n))),
        "min_logp": f32(-(1.2 + rng.gamma(4.0, 1.1, n))),
        "rb_entropy_sum": rb,
        "rb_entropy_mean": rb / t,
        "sum_w": sum_w,
        "sum_w2": f32(sum_w**2 / t * 1.4 * np.exp(rng.normal(0.0, 0.2, n))),
        "sum_w_abs": sum_w,
        "wjlogp_sum": wjlogp,
        "jH_sum": jh_sum,
        "sum_abs_jlogp": sum_abs,
        "mean_abs_jlogp": sum_abs / t,
        "surprisal_sum": -sum_logp,
        "surprisal_mean": -mean_logp,
        "token_share": t / t_total,
        "length_inv": 1.0 / t,
        "length_log": np.log(t),
        "length_x_surprisal_mean": t * -mean_logp,
        "length_x_rb_entropy_mean": t * (rb / t),
    }
    return cols, t_total


def _correlations(y: FloatArray, x: FloatArray) -> FloatArray:
    """Pearson correlation of ``y`` with every column of ``x``."""
    yc = y - y.mean()
    xc = x - x.mean(axis=0)
    num = yc @ xc
    return np.asarray(num / np.sqrt((yc @ yc) * np.sum(xc * xc, axis=0)), dtype=np.float64)


def _cv_stats(cols: dict[str, FloatArray], t_total: int) -> JsonDict:
    """The CV summary computed honestly from the per-sequence columns."""
    y, n = cols["gdotv_i"], cols["gdotv_i"].shape[0]
    var_y = float(y.var(ddof=1))
    x_all = np.column_stack([cols[f] for f in CV_FEATURES_ALL])
    corr_all = _correlations(y, x_all)
    x_sel = np.column_stack([np.ones(n)] + [cols[f] for f in FEATURES])
    beta, *_ = np.linalg.lstsq(x_sel, y, rcond=None)
    joint = float((y - x_sel @ beta).var(ddof=1) / var_y)
    se_batch = float(np.sqrt(var_y / n))
    corr = dict(zip(CV_FEATURES_ALL, corr_all.tolist(), strict=True))
    ratio = {k: 1.0 - v * v for k, v in corr.items()}
    diagnostics: JsonDict = {
        "features": list(FEATURES),
        "features_all": list(CV_FEATURES_ALL),
        "ridge": 1e-08,
        "crossfit_folds": 0,
        "y_mean": float(y.mean()),
        "gdotv_batch": float(y.sum()),
        "var_batch": var_y / n,
        "se_batch": se_batch,
        "se_batch_after_cv": {f: se_batch * float(np.sqrt(ratio[f])) for f in FEATURES},
        "se_batch_after_cv_joint": se_batch * float(np.sqrt(joint)),
        "all_features_stats": {
            "corr": corr,
            "var_ratio_single": ratio,
            "se_after_single": {k: se_batch * float(np.sqrt(v)) for k, v in ratio.items()},
            "rank_top_abs_corr": sorted(CV_FEATURES_ALL, key=lambda k: -abs(corr[k])),
            "rank_top_var_reduction": sorted(CV_FEATURES_ALL, key=lambda k: ratio[k]),
        },
        "meta": {
            "B_total": n,
            "T_total": t_total,
            "scale": 1.0 / t_total,
            "normalization": "per_token",
            "baseline_kind": "hk_ema",
            "total_tokens_used": t_total,
        },
    }
    return {
        "n_seqs": n,
        "normalization": "per_token",
        "mean_gdotv": float(y.mean()),
        "var_gdotv": var_y,
        "corr": {f: corr[f] for f in FEATURES},
        "ols_beta": dict(zip(FEATURES, beta[1:].tolist(), strict=True)),
        "var_after_cv": {f: ratio[f] for f in FEATURES},
        "var_after_cv_joint": joint,
        "diagnostics": diagnostics,
    }


def _per_seq_csv(cols: dict[str, FloatArray]) -> bytes:
    lists = [cols[c].tolist() for c in CV_COLUMNS]
    lists[1] = cols["length"].astype(np.int64).tolist()
    lines = [",".join(CV_COLUMNS)]
    lines += [",".join(map(repr, row)) for row in zip(*lists, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def _feature_stats_csv(summary: JsonDict) -> bytes:
    stats = summary["diagnostics"]["all_features_stats"]
    lines = ["feature,selected_in_joint,corr,var_ratio_single,se_after_single,beta_joint"]
    for f in CV_FEATURES_ALL:
        selected = f in FEATURES
        beta = repr(summary["ols_beta"][f]) if selected else ""
        row = [f, str(int(selected)), repr(stats["corr"][f])]
        row += [repr(stats["var_ratio_single"][f]), repr(stats["se_after_single"][f]), beta]
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


def png_bytes(pixels: npt.NDArray[np.uint8]) -> bytes:
    """Encode an ``(h, w, 3)`` uint8 RGB array as a PNG (no external imaging library)."""
    h, w, _ = pixels.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), pixels.reshape(h, w * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(rows.tobytes(), 9)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _canvas(width: int = 96, height: int = 72) -> npt.NDArray[np.uint8]:
    img = np.full((height, width, 3), 255, np.uint8)
    img[height - 6, 4:] = 90  # x axis
    img[: height - 5, 5] = 90  # y axis
    return img


def _to_pixels(v: FloatArray, lo: int, hi: int) -> npt.NDArray[np.int64]:
    span = float(v.max() - v.min()) or 1.0
    pixels: npt.NDArray[np.int64] = np.rint(lo + (v - v.min()) / span * (hi - lo)).astype(np.int64)
    return pixels


def _scatter_png(x: FloatArray, y: FloatArray) -> bytes:
    img = _canvas()
    h, w, _ = img.shape
    px, py = _to_pixels(x, 8, w - 3), _to_pixels(y, h - 9, 2)
    img[py, px] = (31, 119, 180)
    return png_bytes(img)


def _hist_png(y: FloatArray, bins: int = 22) -> bytes:
    img = _canvas()
    h, w, _ = img.shape
    counts, _ = np.histogram(y, bins=bins)
    tops = h - 7 - np.rint(counts / max(int(counts.max()), 1) * (h - 12)).astype(np.int64)
    bar_w = (w - 10) // bins
    col_bin = (np.arange(w) - 8) // bar_w
    valid = (col_bin >= 0) & (col_bin < bins) & ((np.arange(w) - 8) % bar_w != bar_w - 1)
    top_per_col = np.where(valid, tops[np.clip(col_bin, 0, bins - 1)], h)
    mask = np.arange(h)[:, None] >= top_per_col[None, :]
    mask[h - 6 :, :] = False
    img[mask] = (255, 127, 14)
    return png_bytes(img)


def _stronger(cols: dict[str, FloatArray], first: str, second: str) -> str:
    """Of two features, the one more strongly correlated with g·v."""
    y = cols["gdotv_i"]
    strength = [abs(np.corrcoef(cols[f], y)[0, 1]) for f in (first, second)]
    return second if strength[1] > strength[0] else first


def generate_cv_results(
    rng: np.random.Generator,
    *,
    n_seqs: int = 512,
    run_name: str = "run_01",
    cv_dir: str = CV_DIRS[0],
    gdotv_sum: float | None = None,
    exact_target: bool = False,
) -> tuple[JsonDict, dict[str, bytes]]:
    """A CV ``results.json`` dict plus the files of its ``cv_dir`` folder (name → bytes);
    ``gdotv_sum`` and ``exact_target`` as in ``_cv_columns``."""
    cols, t_total = _cv_columns(rng, n_seqs, gdotv_sum, exact_target)
    summary = _cv_stats(cols, t_total)
    out_dir = f"{CV_OUT_ROOT}/{run_name}"
    folder = f"{out_dir}/{cv_dir}"
    artifacts = {
        "cv_per_seq.csv": _per_seq_csv(cols),
        "cv_feature_stats.csv": _feature_stats_csv(summary),
        "cv_summary.json": json_bytes({**summary, "timestamp": _cv_timestamp(cv_dir)}),
        "hist_yi.png": _hist_png(cols["gdotv_i"]),
    }
    paths = {
        "csv_path": f"{folder}/cv_per_seq.csv",
        "feature_stats_path": f"{folder}/cv_feature_stats.csv",
        "summary_path": f"{folder}/cv_summary.json",
    }
    for feat in (*SCATTER_FEATURES, _stronger(cols, *SCATTER_CHOICES)):
        artifacts[f"scatter_{feat}.png"] = _scatter_png(cols[feat], cols["gdotv_i"])
        paths[f"plot_{feat}"] = f"{folder}/scatter_{feat}.png"
    paths["plot_hist_yi"] = f"{folder}/hist_yi.png"
    timing = {
        "total": 0.0,
        "sampling": float(rng.uniform(210.0, 220.0)),
        "update_vector": float(rng.uniform(21.0, 25.0)),
        "cv_analysis": 0.59 * n_seqs * float(rng.uniform(0.95, 1.05)),
    }
    timing["total"] = sum(timing.values()) + float(rng.uniform(10.0, 16.0))
    config_used = {
        "normalization": "per_token",
        "features": list(FEATURES),
        "ridge": 1e-08,
        "crossfit_folds": 0,
        "out_dir": out_dir,
    }
    results = {
        "paths": paths,
        "summary": summary,
        "v_stats": update_stats(rng),
        "timing_sec": timing,
        "config_used": config_used,
    }
    return results, dict(sorted(artifacts.items()))


def _cv_timestamp(cv_dir: str) -> str:
    """A fixed ISO timestamp derived from the folder name (``cv_YYYYMMDD_HHMMSS``)."""
    stamp = cv_dir.removeprefix("cv_")
    d, t = stamp[:8], stamp[9:15]
    return f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:]}Z"


def _agg_cell(v: object) -> str:
    if isinstance(v, str):
        return f'"{v}"' if "," in v else v
    return repr(v)


def cv_aggregate(results: Sequence[JsonDict]) -> tuple[bytes, bytes]:
    """``cv_runs_aggregate.csv`` and ``.json`` for a list of CV results dicts."""
    rows = []
    for res in results:
        diag = res["summary"]["diagnostics"]
        g, se, se_after = diag["gdotv_batch"], diag["se_batch"], diag["se_batch_after_cv_joint"]
        rows.append(
            {
                "run_dir": res["config_used"]["out_dir"],
                "gdotv_batch": g,
                "se_batch": se,
                "se_batch_after": se_after,
                "VR_SE": se_after / se,
                "SNR": abs(g) / se,
                "SNR_after": abs(g) / se_after,
                "features": ",".join(diag["features"]),
                "B_total": diag["meta"]["B_total"],
                "T_total": diag["meta"]["T_total"],
            }
        )
    header = list(rows[0]) if rows else []
    lines = [",".join(header)] + [",".join(map(_agg_cell, row.values())) for row in rows]
    col = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in header[1:7]}
    summary = {
        "n_runs": len(rows),
        "mean_abs_g": float(np.mean(np.abs(col["gdotv_batch"]))),
        "median_abs_g": float(np.median(np.abs(col["gdotv_batch"]))),
        "mean_se": float(col["se_batch"].mean()),
        "mean_se_after": float(col["se_batch_after"].mean()),
        "mean_VR_SE": float(col["VR_SE"].mean()),
        "median_VR_SE": float(np.median(col["VR_SE"])),
        "mean_SNR": float(col["SNR"].mean()),
        "mean_SNR_after": float(col["SNR_after"].mean()),
        "rows": rows,
    }
    return ("\n".join(lines) + "\n").encode(), json_bytes(summary)


# --- configs and small files -----------------------------------------------------------------
