"""The SNIS-diagnostics schema generation: approximations, ground truth, per sequence."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from reportgen.load.fields import PER_SEQUENCE_COLUMNS, Fields, cell, to_float
from reportgen.load.inputs import (
    LoadError,
)
from reportgen.load.inventory import KnownFields, under
from reportgen.load.models import (
    Approx,
    ClipOverride,
    Curvature,
    DroppedValue,
    Fact,
    FloatArray,
    GradientClip,
    LogWeightStats,
    Normalization,
    PerSequence,
    Schema,
    SequenceMeta,
    SnisData,
    SymmetricFd,
    TrueEntry,
    UpdateStats,
)

# --- schema detection ------------------------------------------------------------------------


def detect_schema(data: Mapping[str, Any]) -> Schema:
    true = data.get("true")
    approx = data.get("approx")
    summary = data.get("summary")
    if (isinstance(true, Mapping) and "entries" in true) or (
        isinstance(approx, Mapping) and "delta_h_per_lr" in approx
    ):
        return Schema.SNIS
    if isinstance(data.get("sweep"), list):
        return Schema.SWEEP
    if isinstance(summary, Mapping) and ("corr" in summary or "var_after_cv" in summary):
        return Schema.CV
    return Schema.GENERIC


# --- SNIS ------------------------------------------------------------------------------------


def keep_eta(eta: float, where: str, dropped: list[DroppedValue] | None) -> bool:
    """Whether an η is finite; a NaN or infinite η is recorded and its row left out."""
    if math.isfinite(eta):
        return True
    if dropped is not None:
        dropped.append(DroppedValue(where, repr(eta)))
    return False


def load_curvature(
    block: Fields | None, dropped: list[DroppedValue] | None = None
) -> Curvature | None:
    if block is None:
        return None
    variance = block.sub("variance")
    ratio = block.sub("ratio_pred")
    ratios: list[tuple[float, float]] = []
    if ratio is not None:
        for key in ratio.data:
            value = ratio.float(key)
            eta = to_float(key, ratio.where(key))
            if value is not None and eta is not None and keep_eta(eta, ratio.where(key), dropped):
                ratios.append((eta, value))
    return Curvature(
        gdotv=block.float("gdotv"),
        vhvv=block.float("vHvv"),
        eta_star=block.float("eta_star"),
        ratio_pred=tuple(sorted(ratios)),
        per_sequence_vhvv=block.array("per_sequence_vhvv"),
        se_gdotv=variance.float("se_gdotv") if variance else None,
        se_vhvv=variance.float("se_vHvv") if variance else None,
        method=block.str("method"),
        num_shards=variance.int("num_shards") if variance else None,
    )


_PLAIN_NUMBERS = {int, float, type(None)}  # None: NaN, as ``cell`` reads it


def _column(objects: list[Mapping[str, Any]], key: str, where: Callable[[int], str]) -> FloatArray:
    """One field of every object as float64: one numpy call, per-object checks only on failure.

    ``where(i)`` names object i, for the error that names a bad value.
    """
    values = [o.get(key) for o in objects]
    if set(map(type, values)) <= _PLAIN_NUMBERS:  # bool and numeric strings take the slow path
        try:
            array = np.asarray(values, dtype=np.float64)
            if array.ndim == 1:
                return array
        except (TypeError, ValueError, OverflowError):
            pass  # lists or huge ints: the slow path converts or names the bad object
    return np.asarray(
        [cell(v, f"{where(i)}.{key}") for i, v in enumerate(values)], dtype=np.float64
    )


def _features(
    records: list[Mapping[str, Any]], where: Callable[[int], str]
) -> list[Mapping[str, Any]]:
    """Each record's ``features`` object ({} when absent)."""
    features = [r.get("features") for r in records]
    if not set(map(type, features)) <= {dict, type(None)}:
        for i, record in enumerate(records):
            Fields(record, where(i)).sub("features")  # raises, naming the record
    return [f or {} for f in features]


def load_per_sequence(approx: Fields) -> PerSequence | None:
    records = approx.objects("per_sequence")
    if not records:
        return None
    path = approx.where("per_sequence")

    def where(i: int) -> str:
        return f"{path}[{i}]"

    def features_where(i: int) -> str:
        return f"{path}[{i}].features"

    features_of = _features(records, where)
    features = [
        (f"features.{name}", _column(features_of, name, features_where))
        for name in sorted(set().union(*features_of))
    ]
    has_vhvv = all("vhvv" in r for r in records)
    has_length = any("length" in r for r in records)
    index = _column(records, "index", where)
    return PerSequence(
        index=np.where(np.abs(index) < 2.0**62, index, -1).astype(np.int64),  # NaN/inf: -1
        gdotv=_column(records, "gdotv", where),
        vhvv=_column(records, "vhvv", where) if has_vhvv else None,
        length=_column(records, "length", where) if has_length else None,
        columns=tuple((k, _column(records, k, where)) for k in PER_SEQUENCE_COLUMNS)
        + tuple(features),
    )


def load_approx(approx: Fields, dropped: list[DroppedValue] | None = None) -> Approx:
    variance = approx.sub("variance")
    meta = approx.sub("per_sequence_meta")
    baseline = approx.sub("baseline")
    return Approx(
        delta_h_per_lr=approx.float("delta_h_per_lr"),
        num_sequences=approx.int("num_sequences"),
        num_tokens=approx.int("num_tokens"),
        method=approx.str("method"),
        estimator=approx.str("estimator"),
        baseline_kind=baseline.str("kind") if baseline else approx.str("baseline"),
        se_shard=variance.float("se_shard") if variance else None,
        se_jackknife=variance.float("se_jackknife") if variance else None,
        num_shards=variance.int("num_shards") if variance else None,
        eta_star=approx.float("eta_star"),
        used_quad=approx.bool("used_quad"),
        duration=approx.float("duration"),
        update_seconds=approx.float("update_seconds"),
        per_sequence=load_per_sequence(approx),
        meta=SequenceMeta(
            b_total=meta.int("B_total"),
            t_total=meta.int("T_total"),
            scale=meta.float("scale"),
            h_base_mean=meta.float("H_base_mean"),
            baseline_kind=meta.str("baseline_kind"),
        )
        if meta
        else None,
        quadratic=load_curvature(approx.sub("quadratic"), dropped),
    )


def _logweights(block: Fields | None) -> LogWeightStats | None:
    if block is None:
        return None
    return LogWeightStats(block.float("min"), block.float("median"), block.float("max"))


def load_clip_overrides(
    diagnostics: Fields, dropped: list[DroppedValue] | None = None
) -> tuple[ClipOverride, ...]:
    """``clip_overrides``: one result per clip threshold (keys are the threshold, ``%.6g``).

    A key that is not a finite number is recorded as dropped and left out.
    """
    block = diagnostics.sub("clip_overrides")
    if block is None:
        return ()
    overrides = []
    for key in block.data:
        threshold = to_float(key, block.where(key))
        if threshold is None or not keep_eta(threshold, block.where(key), dropped):
            continue
        item = block.sub(key)
        if item is None:
            continue
        overrides.append(
            ClipOverride(
                threshold=threshold,
                key=str(key),
                delta_h_true=item.float("delta_h_true"),
                ess=item.float("ess"),
                clip_fraction=item.float("clip_fraction"),
                weights_sum=item.float("weights_sum"),
                logweights=_logweights(item.sub("logweight_stats")),
            )
        )
    return tuple(sorted(overrides, key=lambda o: o.threshold))


def load_symmetric_fd(diagnostics: Fields) -> SymmetricFd | None:
    """``symmetric_fd``; ``None`` without the block or its η."""
    block = diagnostics.sub("symmetric_fd")
    eta = block.float("eta") if block is not None else None
    if block is None or eta is None:
        return None
    return SymmetricFd(
        eta=eta,
        delta_plus=block.float("delta_plus"),
        delta_minus=block.float("delta_minus"),
        finite_difference=block.float("finite_difference"),
        ess_plus=block.float("ess_plus"),
        ess_minus=block.float("ess_minus"),
        clip_fraction_plus=block.float("clip_fraction_plus"),
        clip_fraction_minus=block.float("clip_fraction_minus"),
        weights_sum_plus=block.float("weights_sum_plus"),
        weights_sum_minus=block.float("weights_sum_minus"),
        logweights_plus=_logweights(block.sub("logweight_stats_plus")),
        logweights_minus=_logweights(block.sub("logweight_stats_minus")),
    )


def load_update_stats(data: Fields) -> UpdateStats | None:
    """``baseline_norm``, ``per_sequence.count`` and ``gradient_clip`` of the update vector,
    from ``update`` (else ``approx.update_stats``); ``None`` when neither carries them."""
    approx = data.sub("approx")
    for source, block in (
        ("update", data.sub("update")),
        ("approx.update_stats", approx.sub("update_stats") if approx else None),
    ):
        if block is None or not any(
            block.has(k) for k in ("baseline_norm", "per_sequence", "gradient_clip")
        ):
            continue
        per_sequence = block.sub("per_sequence")
        clip = block.sub("gradient_clip")
        return UpdateStats(
            source=source,
            baseline_norm=block.float("baseline_norm"),
            per_sequence_count=per_sequence.int("count") if per_sequence else None,
            gradient_clip=GradientClip(
                clip.float("max_norm"), clip.float("applied_scale"), clip.float("preclip_norm")
            )
            if clip
            else None,
        )
    return None


def load_entry(entry: Fields, dropped: list[DroppedValue] | None = None) -> TrueEntry:
    diagnostics = entry.sub("diagnostics") or Fields({}, entry.where("diagnostics"))
    stats = diagnostics.sub("logweight_stats")
    eta = entry.float("eta")
    if eta is None:
        raise LoadError(f"{entry.where('eta')}: missing")
    delta = entry.float("delta_h_true")
    return TrueEntry(
        eta=eta,
        delta_h_true=delta if delta is not None else diagnostics.float("delta_h_true"),
        base_entropy=diagnostics.float("base_entropy"),
        ess=diagnostics.float("ess"),
        clip_fraction=diagnostics.float("clip_fraction"),
        weights_sum=diagnostics.float("weights_sum"),
        logweight_min=stats.float("min") if stats else None,
        logweight_median=stats.float("median") if stats else None,
        logweight_max=stats.float("max") if stats else None,
        normalized_weights=diagnostics.array("normalized_weights"),
        log_weights=diagnostics.array("log_weights"),
        h_base=diagnostics.array("h_base"),
        h_new=diagnostics.array("h_new"),
        delta_h_seq=diagnostics.array("delta_h_seq"),
        token_counts=diagnostics.array("token_counts"),
        clip_overrides=load_clip_overrides(diagnostics, dropped),
        symmetric_fd=load_symmetric_fd(diagnostics),
    )


def load_snis(data: Fields, dropped: list[DroppedValue] | None = None) -> SnisData:
    approx = data.sub("approx") or Fields({}, "approx")
    true = data.sub("true")
    loaded = (
        [(e.where("eta"), load_entry(e, dropped)) for e in true.items("entries")] if true else []
    )
    entries = tuple(
        sorted((e for where, e in loaded if keep_eta(e.eta, where, dropped)), key=lambda e: e.eta)
    )
    return SnisData(
        approx=load_approx(approx, dropped),
        entries=entries,
        has_control_variates=data.has("control_variates"),
        update=load_update_stats(data),
    )


def snis_facts(data: Fields, snis: SnisData, normalization: Normalization) -> list[Fact]:
    approx = snis.approx
    update = data.sub("update")
    timing = data.sub("timing")
    true = data.sub("true")
    facts = [
        Fact("Sequences", approx.num_sequences),
        Fact("Tokens", approx.num_tokens),
        Fact("Estimator", approx.estimator),
        Fact("Method", approx.method),
        Fact("Baseline", approx.baseline_kind),
        Fact(
            "Normalisation (true / approx)",
            f"{normalization.true_mode} / {normalization.approx_mode}",
        ),
        Fact("Sampling time", data.float("sampling_sec"), "s"),
        Fact("Total time", timing.float("total") if timing else None, "s"),
        Fact("Approximation time", approx.duration, "s"),
        Fact("Update-vector time", approx.update_seconds, "s"),
        Fact("Ground-truth time", true.float("duration") if true else None, "s"),
    ]
    if update is not None:
        amp = update.sub("amp")
        facts += [
            Fact("Update method", update.str("method")),
            Fact("Update ‖v‖", update.float("vec_norm")),
            # num_params counts parameter tensors (392 for a 1.5B model), not scalars
            Fact("Update parameter tensors", update.int("num_params")),
            Fact("Update microbatches", update.int("num_microbatches")),
            Fact("Update mean loss", update.float("avg_mb_loss")),
            Fact("Update AMP", f"{amp.bool('enabled')} ({amp.str('dtype')})" if amp else None),
        ]
    if snis.update is not None:
        facts += update_facts(snis.update)
    return facts


def update_facts(stats: UpdateStats) -> list[Fact]:
    """The update vector's baseline norm, per-sequence count and gradient clipping."""
    clip = stats.gradient_clip
    applied = clip.applied if clip is not None else None
    return [
        Fact("Update baseline norm", stats.baseline_norm),
        Fact("Update per-sequence count", stats.per_sequence_count),
        Fact(
            "Gradient clipping",
            None if applied is None else "applied" if applied else "not applied",
        ),
        Fact("Gradient clip max norm", clip.max_norm if clip else None),
        Fact("Gradient norm before clipping", clip.preclip_norm if clip else None),
        Fact("Gradient clip scale applied", clip.applied_scale if clip else None),
    ]


def snis_config_facts(config: Mapping[str, Any]) -> list[Fact]:
    """Ground-truth settings of ``config.yaml`` the page states beside the results."""
    block = config.get("true_delta_h")
    if not isinstance(block, Mapping):
        return []
    facts = []
    for label, key in (
        ("SNIS clip threshold (config)", "clip_c"),
        ("Ground-truth teacher-forcing batch size", "tf_batch_size"),
    ):
        value = block.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            facts.append(Fact(label, value))
    return facts


# --- the fields this generation knows --------------------------------------------------------

_ENTRY = "true.entries[].diagnostics"
_UPDATE = """method vec_norm num_params num_microbatches avg_mb_loss amp.enabled amp.dtype
    baseline_norm per_sequence.count gradient_clip.max_norm gradient_clip.applied_scale
    gradient_clip.preclip_norm"""
_FD = """eta delta_plus delta_minus finite_difference ess_plus ess_minus clip_fraction_plus
    clip_fraction_minus weights_sum_plus weights_sum_minus"""

SNIS_FIELDS = KnownFields(
    used=(
        *under("", "B_E B_U G_U sampling_sec timing.total true.duration"),
        *under("precision", "runtime_dtype entropy_dtype"),
        *under("update", _UPDATE),
        *under("approx.update_stats", _UPDATE),
        *under(
            "approx",
            """delta_h_per_lr num_sequences num_tokens method estimator baseline baseline.kind
            eta_star used_quad duration update_seconds variance.se_shard
            variance.se_jackknife variance.num_shards""",
        ),
        *under("approx.per_sequence[]", "index gdotv vhvv length features.*"),
        *under("approx.per_sequence[]", " ".join(PER_SEQUENCE_COLUMNS)),
        *under("approx.per_sequence_meta", "B_total T_total scale H_base_mean baseline_kind"),
        *under(
            "approx.quadratic",
            """gdotv vHvv eta_star ratio_pred.# per_sequence_vhvv variance.se_gdotv
            variance.se_vHvv variance.num_shards method""",
        ),
        *under("true.entries[]", "eta delta_h_true"),
        *under(
            _ENTRY,
            """delta_h_true base_entropy ess clip_fraction weights_sum normalized_weights
            log_weights h_base h_new delta_h_seq token_counts logweight_stats.min
            logweight_stats.median logweight_stats.max""",
        ),
        *under(
            f"{_ENTRY}.clip_overrides.#",
            """delta_h_true ess clip_fraction weights_sum logweight_stats.min
            logweight_stats.median logweight_stats.max""",
        ),
        *under(f"{_ENTRY}.symmetric_fd", _FD),
        *under(f"{_ENTRY}.symmetric_fd.logweight_stats_plus", "min median max"),
        *under(f"{_ENTRY}.symmetric_fd.logweight_stats_minus", "min median max"),
    ),
    unused={
        "approx.audit": "the scale audit (Σ scale, tokens used): checked by other means",
        "approx.per_sequence[].extras": "RB metadata per sequence (the CV runs analyse it)",
        "approx.per_sequence_meta.features": "names of the regression features",
        "approx.per_sequence_meta.total_tokens_used": "equals T_total",
        "approx.quadratic.audit": "the scale audit of the curvature pass",
        "approx.quadratic.baseline": "the baseline of the curvature pass (as approx.baseline)",
        "approx.quadratic.num_sequences": "equals approx.num_sequences",
        "approx.quadratic.num_tokens": "equals approx.num_tokens",
        "control_variates": "control-variate diagnostics (the page notes only that they exist)",
        "timing.*": "component timings (the total is shown)",
    },
)
