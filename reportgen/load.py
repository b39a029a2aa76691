"""Tolerant parsing of a run's files into frozen dataclasses, one loader per schema generation."""

from __future__ import annotations

import builtins
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

from reportgen.inputs import (
    DEFAULT_MAX_BYTES,
    ConfigRead,
    LoadError,
    embeddable,
    nesting_exceeds,
    read_bytes,
    read_config,
    read_inputs,
)
from reportgen.models import (
    Approx,
    ConfigProblem,
    Curvature,
    CvData,
    CvFeature,
    DroppedValue,
    Fact,
    FloatArray,
    GenericField,
    LoadFailure,
    Normalization,
    PerSequence,
    Run,
    RunRef,
    Schema,
    SequenceMeta,
    SkippedInput,
    SnisData,
    SweepData,
    TrueEntry,
)
from reportgen.parameters import run_parameters

GENERIC_MAX_DEPTH = 12
GENERIC_MAX_FIELDS = 400
PER_SEQUENCE_COLUMNS = ("sum_logp", "mean_logp", "var_logp", "max_logp", "min_logp")
# orjson before 3.9 has no nesting limit and overflows the C stack on deep input (a segfault
# that kills the build), so deeper documents go to the standard library, which stops cleanly.
FAST_PARSE_MAX_DEPTH = 512
FIELD_HINT = "A field has a type or value no schema generation allows; see the results guide."
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_PARTIAL_TOKEN = re.compile(r"[-+.0-9eE]*|t(r(u)?)?|f(a(l(s)?)?)?|n(u(l)?)?|N(a)?|I[nfity]{0,6}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


NamedFloats = tuple[tuple[str, float], ...]


# --- reading files ---------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


# orjson before 3.9.15 overflows the C stack on deeply nested input (CVE-2024-27454); later
# versions stop at depth 1024 with a JSONDecodeError, so the byte scan below is only needed then.
ORJSON_LIMITS_DEPTH = _version(orjson.__version__) >= (3, 9, 15)


def parse_json(data: bytes) -> Any:
    """Parse JSON, accepting the ``NaN``/``Infinity`` tokens Python's json module writes."""
    # The fast path validates UTF-8 itself; decoding to str is only needed for the fallback.
    if ORJSON_LIMITS_DEPTH or not nesting_exceeds(data, FAST_PARSE_MAX_DEPTH):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # orjson rejects NaN/Infinity and lone surrogates; the standard library does not
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not valid UTF-8 (byte {exc.start})", hint="The file is binary or corrupted."
        ) from exc
    if not text.strip():
        raise LoadError("file is empty", hint="The run may still be writing, or it died.")
    try:
        parsed = json.loads(text)
        # A lone surrogate (``"\\ud800"``) cannot be written as UTF-8 later: replace it now.
        return _without_surrogates(parsed) if _SURROGATE_ESCAPE.search(text) else parsed
    except RecursionError as exc:
        raise LoadError("JSON is nested too deeply to read", hint="The file is not a run.") from exc
    except json.JSONDecodeError as exc:
        # the file ends at the error, or inside the number or literal the error points at
        truncated = _PARTIAL_TOKEN.fullmatch(text[exc.pos :].rstrip()) is not None
        hint = (
            "The file looks truncated: was the run still writing?"
            if truncated
            else "Fix the JSON syntax at that position."
        )
        raise LoadError(
            f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno, hint=hint
        ) from exc


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


# --- typed access to untyped JSON ------------------------------------------------------------


class Fields:
    """Read typed values out of a JSON object, naming the field path in every error.

    Its methods are named after the types they return, so later annotations say ``builtins.``.
    """

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def sub(self, key: str) -> Fields | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise LoadError(f"{self.where(key)}: expected an object, got {_kind(value)}")
        return Fields(value, self.where(key))

    def items(self, key: str) -> Iterator[Fields]:
        value = self.data.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            raise LoadError(f"{self.where(key)}: expected a list, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise LoadError(f"{self.where(key)}[{i}]: expected an object, got {_kind(item)}")
            yield Fields(item, f"{self.where(key)}[{i}]")

    def float(self, key: str) -> float | None:
        return to_float(self.data.get(key), self.where(key))

    def int(self, key: str) -> int | None:
        """A count; ``None`` when it is not finite or beyond 64 bits (no JSON writer takes it)."""
        value = self.float(key)
        if value is None or not math.isfinite(value) or abs(value) >= 2.0**63:
            return None
        return int(value)

    def str(self, key: builtins.str) -> builtins.str | None:
        value = self.data.get(key)
        return None if value is None or isinstance(value, (dict, list)) else str(value)

    def bool(self, key: builtins.str) -> builtins.bool | None:
        value = self.data.get(key)
        return value if isinstance(value, bool) else None

    def array(self, key: builtins.str) -> FloatArray | None:
        return to_array(self.data.get(key), self.where(key))

    def float_map(self, key: builtins.str) -> NamedFloats:
        sub = self.sub(key)
        if sub is None:
            return ()
        return tuple((name, v) for name in sorted(sub.data) if (v := sub.float(name)) is not None)


def _kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}  # fmt: skip
    return kinds.get(type(value), type(value).__name__)


def to_float(value: object, where: str) -> float | None:
    """A number, also from a numeric string; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, (bool, dict, list)):
        raise LoadError(f"{where}: expected a number, got {_kind(value)}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        raise LoadError(f"{where}: expected a number, got {str(value)[:40]!r}") from exc


def to_array(value: object, where: str) -> FloatArray | None:
    """A list of numbers as float64; ``null`` items become NaN, numeric strings are parsed."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise LoadError(f"{where}: expected a list of numbers, got {_kind(value)}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        # one item at a time: names the bad item (booleans included: to_float refuses them)
        array = np.asarray([_item(v, where, i) for i, v in enumerate(value)], dtype=np.float64)
    if array.ndim != 1:
        raise LoadError(f"{where}: expected a flat list of numbers")
    # numpy takes true/false as 1.0/0.0: look for booleans only where such a value appears
    if np.any((array == 0.0) | (array == 1.0)) and bool in set(map(type, value)):
        index = next(i for i, v in enumerate(value) if isinstance(v, bool))
        raise LoadError(f"{where}[{index}]: expected a number, got a boolean")
    return array


def _item(value: object, where: str, index: int) -> float:
    return _cell(value, f"{where}[{index}]")


def _cell(value: object, where: str) -> float:
    """One number of a column; ``null`` is NaN."""
    number = to_float(value, where)
    return math.nan if number is None else number


# --- configuration ---------------------------------------------------------------------------


NORMALIZE_KEY = ("approx_delta_h", "normalize")
PER_TOKEN_KEY = ("true_delta_h", "report_per_token")
DEFAULT_SOURCE = "default (the guide: per-token)"


def _setting(config: ConfigRead, key: tuple[str, str], kind: type) -> tuple[Any, str | None]:
    """A normalisation setting: ``(value or None when absent, why it could not be read)``."""
    block, name = key
    if block in config.unread_keys:
        return None, f"its {block} block could not be parsed"
    if config.problem is not None and block not in config.values:
        return None, f"{block} could not be read"
    section = config.values.get(block)
    if section is None:
        return None, None
    if not isinstance(section, Mapping):
        return None, f"{block} is not a mapping"
    value = section.get(name)
    if value is None:
        return None, None
    if not isinstance(value, kind) or (isinstance(value, str) and len(value) > 64):
        return None, f"{block}.{name} is {_kind(value)}, not a {kind.__name__}"
    return value, None


def resolve_normalization(
    ref: RunRef, config: ConfigRead | None, data_hint: str | None = None
) -> tuple[Normalization, ConfigProblem | None]:
    """The normalisation from the run's (or a sibling's) config, the data, or the default.

    A config that could not be read is never silently replaced by the default: what could be
    read is used, and the problem is returned, to become an error finding on the run.
    """
    if config is None:
        if data_hint is not None:
            return Normalization(
                "per_token" if data_hint == "per_token" else "per_sequence",
                data_hint,
                "the results file's own normalization field",
            ), None
        return Normalization("per_token", "per_token", DEFAULT_SOURCE), None
    borrowed = config.path != ref.config
    source = (
        f"config.yaml of sibling run ({config.path})" if borrowed else "config.yaml of this run"
    )
    approx_mode, approx_why = _setting(config, NORMALIZE_KEY, str)
    per_token, true_why = _setting(config, PER_TOKEN_KEY, bool)
    problem = None
    whys = [w for w in (approx_why, true_why) if w]
    if config.problem is not None or whys:
        reason = "; ".join([*([config.problem] if config.problem else []), *whys])
        problem = ConfigProblem(config.path, reason, borrowed, config.unread_keys)
    if whys:
        fallback = data_hint or "per_token"
        approx_mode = approx_mode if approx_why is None else fallback
        if true_why is not None:
            per_token = fallback == "per_token"
        source += f", partly unreadable (assumed {fallback} where it could not be read)"
    true_mode: Literal["per_token", "per_sequence"] = (
        "per_sequence" if per_token is False else "per_token"
    )
    return Normalization(true_mode, str(approx_mode or "per_token"), source, config.path), problem


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


def _keep_eta(eta: float, where: str, dropped: list[DroppedValue] | None) -> bool:
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
            if value is not None and eta is not None and _keep_eta(eta, ratio.where(key), dropped):
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


def _column(records: list[Fields], key: str) -> FloatArray:
    """One field of every record as float64: one numpy call, per-record checks only on failure."""
    values = [r.data.get(key) for r in records]
    if not any(isinstance(v, (bool, str)) for v in values):
        try:
            array = np.asarray(values, dtype=np.float64)
            if array.ndim == 1:
                return array
        except (TypeError, ValueError, OverflowError):
            pass  # nulls, lists or huge ints: the slow path converts or names the bad record
    return np.asarray([_cell(r.data.get(key), r.where(key)) for r in records], dtype=np.float64)


def load_per_sequence(approx: Fields) -> PerSequence | None:
    records = list(approx.items("per_sequence"))
    if not records:
        return None
    features_of = [r.sub("features") or Fields({}, r.where("features")) for r in records]
    feature_names = sorted({name for f in features_of for name in f.data})
    features = [(f"features.{name}", _column(features_of, name)) for name in feature_names]
    has_vhvv = all("vhvv" in r.data for r in records)
    index = _column(records, "index")
    return PerSequence(
        index=np.where(np.abs(index) < 2.0**62, index, -1).astype(np.int64),  # NaN/inf: -1
        gdotv=_column(records, "gdotv"),
        vhvv=_column(records, "vhvv") if has_vhvv else None,
        length=_column(records, "length") if any("length" in r.data for r in records) else None,
        columns=tuple((k, _column(records, k)) for k in PER_SEQUENCE_COLUMNS) + tuple(features),
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


def load_entry(entry: Fields) -> TrueEntry:
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
    )


def load_snis(data: Fields, dropped: list[DroppedValue] | None = None) -> SnisData:
    approx = data.sub("approx") or Fields({}, "approx")
    true = data.sub("true")
    loaded = [(e.where("eta"), load_entry(e)) for e in true.items("entries")] if true else []
    entries = tuple(
        sorted((e for where, e in loaded if _keep_eta(e.eta, where, dropped)), key=lambda e: e.eta)
    )
    return SnisData(
        approx=load_approx(approx, dropped),
        entries=entries,
        has_control_variates=data.has("control_variates"),
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
    return facts


# --- η sweep ---------------------------------------------------------------------------------


def load_sweep(data: Fields, dropped: list[DroppedValue] | None = None) -> SweepData:
    rows = []
    for row in data.items("sweep"):
        eta = row.float("eta")
        if _keep_eta(math.nan if eta is None else eta, row.where("eta"), dropped):
            rows.append(row)
    rows.sort(key=lambda r: r.float("eta") or 0.0)

    def column(*keys: str) -> FloatArray:
        values = []
        for row in rows:
            value = next((v for k in keys if (v := row.float(k)) is not None), None)
            values.append(math.nan if value is None else value)
        return np.asarray(values, dtype=np.float64)

    variance = data.data.get("variance")
    return SweepData(
        etas=column("eta"),
        delta_h_true=column("deltaH_true"),
        delta_h_linear=column("deltaH_approx_linear", "deltaH_approx"),
        delta_h_linquad=column("deltaH_approx_linquad"),
        curvature=load_curvature(data.sub("curvature"), dropped),
        variance=to_float(variance, "variance") if not isinstance(variance, (dict, list)) else None,
    )


def timing_facts(block: Fields | None, label: str) -> list[Fact]:
    """Numeric timings as facts; nested or textual entries are not timings and are left out."""
    if block is None:
        return []
    facts = []
    for key in block.data:
        try:
            value = block.float(key)
        except LoadError:
            continue
        if value is not None:
            facts.append(Fact(f"{label}: {key}", value, "s"))
    return facts


# --- control variates ------------------------------------------------------------------------


def load_cv(data: Fields) -> CvData:
    summary = data.sub("summary") or Fields({}, "summary")
    diagnostics = summary.sub("diagnostics")
    corr = dict(summary.float_map("corr"))
    beta = dict(summary.float_map("ols_beta"))
    after = dict(summary.float_map("var_after_cv"))
    selected = set(corr) | set(after)
    names = sorted(selected | set(beta))
    return CvData(
        n_seqs=summary.int("n_seqs"),
        normalization=summary.str("normalization"),
        mean_gdotv=summary.float("mean_gdotv"),
        var_gdotv=summary.float("var_gdotv"),
        gdotv_batch=diagnostics.float("gdotv_batch") if diagnostics else None,
        se_batch=diagnostics.float("se_batch") if diagnostics else None,
        se_batch_after_cv_joint=diagnostics.float("se_batch_after_cv_joint")
        if diagnostics
        else None,
        var_after_cv_joint=summary.float("var_after_cv_joint"),
        features=tuple(
            CvFeature(n, corr.get(n), beta.get(n), after.get(n), n in selected) for n in names
        ),
    )


# --- generic ---------------------------------------------------------------------------------


def generic_fields(data: Any, path: str = "", depth: int = 0) -> Iterator[GenericField]:
    """Scalars as a flat tree; lists summarised by length and numeric range."""
    if isinstance(data, Mapping):
        if depth >= GENERIC_MAX_DEPTH:
            yield GenericField(path or "(root)", f"… {len(data)} keys nested deeper")
            return
        for key in sorted(data, key=str):
            yield from generic_fields(data[key], f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(data, list):
        numbers = [v for v in data if isinstance(v, (int, float)) and not isinstance(v, bool)]
        finite = [float(v) for v in numbers if math.isfinite(v)]
        yield GenericField(
            path or "(root)",
            None,
            length=len(data),
            minimum=min(finite) if finite else None,
            maximum=max(finite) if finite else None,
        )
    elif data is None or isinstance(data, (str, int, float, bool)):
        yield GenericField(path or "(root)", data)


# --- the loader ------------------------------------------------------------------------------


def load_run(ref: RunRef, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Run | LoadFailure:
    """Load one run; every problem becomes a :class:`LoadFailure`, never an exception."""
    try:
        return _load_run(ref, root, max_bytes)
    except LoadError as exc:
        hint = exc.hint or FIELD_HINT
        return LoadFailure(ref, exc.reason, ref.source, exc.line, exc.column, hint)
    except Exception as exc:  # a loader bug must still cost one run, not the build
        reason = f"unreadable content: {type(exc).__name__}: {exc}"[:300]
        return LoadFailure(ref, reason, ref.source, hint=FIELD_HINT)


def _load_run(ref: RunRef, root: Path, max_bytes: int) -> Run:
    source = read_bytes(root / ref.source, max_bytes)
    data = parse_json(source)
    if not isinstance(data, Mapping):
        raise LoadError(
            f"top level is {_kind(data)}, not an object",
            hint="A results file holds one JSON object.",
        )
    fields = Fields(data)
    skipped: list[SkippedInput] = []
    own = read_config(root, ref.config, max_bytes) if ref.config else None
    borrowed = read_config(root, ref.sibling_config, max_bytes) if ref.sibling_config else None
    config = own if ref.config else borrowed
    if own is not None:
        skipped += own.shown_in_part
    if config is not None and config.text is None and config.problem:
        unreadable = config.problem.startswith("cannot read")
        skipped.append(SkippedInput(config.path, config.problem, unreadable))
    plan_text, plan = _read_plan(ref, root, max_bytes, skipped)
    schema = detect_schema(data)
    dropped: list[DroppedValue] = []
    builders: dict[Schema, Callable[[Fields], dict[str, Any]]] = {
        Schema.SNIS: lambda f: {"snis": load_snis(f, dropped)},
        Schema.SWEEP: lambda f: {"sweep": load_sweep(f, dropped)},
        Schema.CV: lambda f: {"cv": load_cv(f)},
        Schema.GENERIC: lambda f: {"generic": tuple(generic_fields(f.data))[:GENERIC_MAX_FIELDS]},
    }
    blocks = builders[schema](fields)
    cv: CvData | None = blocks.get("cv")
    normalization, problem = resolve_normalization(ref, config, cv.normalization if cv else None)
    facts = _batch_facts(fields) + _schema_facts(schema, fields, blocks, normalization)
    return Run(
        ref=ref,
        schema=schema,
        normalization=normalization,
        facts=tuple(f for f in facts if f.value is not None),
        config_text=own.text if own is not None else None,
        plan_text=plan_text,
        capture_per_sequence=plan.get("capture_per_sequence") if plan is not None else None,
        inputs=read_inputs(ref, root, max_bytes, source, skipped),
        config_problems=(problem,) if problem is not None else (),
        dropped=tuple(dropped),
        parameters=run_parameters(config.values if config is not None else None, plan),
        **blocks,
    )


def _read_plan(
    ref: RunRef, root: Path, max_bytes: int, skipped: list[SkippedInput]
) -> tuple[str | None, dict[str, Any] | None]:
    """plan.json's text (as the page shows it) and its object; problems go to ``skipped``."""
    if ref.plan is None:
        return None, None
    try:
        data = read_bytes(root / ref.plan, max_bytes)
    except LoadError as exc:
        skipped.append(SkippedInput(ref.plan, exc.reason, exc.reason.startswith("cannot read")))
        return None, None
    text = embeddable(data.decode("utf-8", errors="replace"), ref.plan, skipped)
    try:
        plan = parse_json(data)
    except LoadError as exc:
        skipped.append(SkippedInput(ref.plan, f"not used: {exc.reason}", False))
        return text, None
    if not isinstance(plan, dict):
        skipped.append(SkippedInput(ref.plan, f"not used: top level is {_kind(plan)}", False))
        return text, None
    if not isinstance(plan.get("capture_per_sequence", False), bool):
        skipped.append(
            SkippedInput(ref.plan, "not used: capture_per_sequence is not a boolean", False)
        )
        plan = {k: v for k, v in plan.items() if k != "capture_per_sequence"}
    return text, plan


def _batch_facts(fields: Fields) -> list[Fact]:
    precision = fields.sub("precision")
    facts = [
        Fact(label, fields.int(key))
        for label, key in (("B_E", "B_E"), ("B_U", "B_U"), ("G_U", "G_U"))
    ]
    if precision is not None:
        facts += [
            Fact("Runtime dtype", precision.str("runtime_dtype")),
            Fact("Entropy dtype", precision.str("entropy_dtype")),
        ]
    return facts


def _times(n: int | None, value: float | None) -> float | None:
    return None if n is None or value is None else n * value


def _schema_facts(
    schema: Schema, fields: Fields, blocks: dict[str, Any], normalization: Normalization
) -> list[Fact]:
    if schema is Schema.SNIS:
        return snis_facts(fields, blocks["snis"], normalization)
    if schema is Schema.SWEEP:
        timing = timing_facts(fields.sub("timing"), "Time")
        return [Fact("Normalisation", normalization.true_mode), *timing]
    if schema is Schema.CV:
        cv: CvData = blocks["cv"]
        v_stats = fields.sub("v_stats")
        return [
            Fact("Sequences", cv.n_seqs),
            Fact("Normalisation", cv.normalization),
            # se_batch is the SE of the *mean* g·v (√(var/n)); the batch value is a sum over
            # sequences, so each SE is shown beside the quantity it belongs to
            Fact("Mean g·v", cv.mean_gdotv),
            Fact("SE of mean g·v", cv.se_batch),
            Fact("SE of mean g·v after joint CV", cv.se_batch_after_cv_joint),
            Fact("Var g·v", cv.var_gdotv),
            Fact("Batch g·v (sum over sequences)", cv.gdotv_batch),
            Fact("SE of batch g·v (n × SE of mean)", _times(cv.n_seqs, cv.se_batch)),
            Fact("Update method", v_stats.str("method") if v_stats else None),
            Fact("Update ‖v‖", v_stats.float("vec_norm") if v_stats else None),
            *timing_facts(fields.sub("timing_sec"), "Time"),
        ]
    return []
