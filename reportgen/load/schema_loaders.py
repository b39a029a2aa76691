"""What each schema generation adds to a run: its block, its facts and the fields it reads.

The run kinds (``reportgen.kinds.runs``) load through these; the rest of a run (its config,
plan, input files, parameters and field inventory) is read the same way for every schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reportgen.load.cv import CV_FIELDS, cv_setting_facts, load_cv
from reportgen.load.fields import GENERIC_MAX_FIELDS, Fields
from reportgen.load.generic import generic_fields
from reportgen.load.inventory import KnownFields
from reportgen.load.models import CvData, DroppedValue, Fact, InputFiles, Normalization, Schema
from reportgen.load.snis import SNIS_FIELDS, load_snis, snis_config_facts, snis_facts
from reportgen.load.sweep import SWEEP_FIELDS, load_sweep, timing_facts

Blocks = dict[str, Any]  # the Run's schema block: ``snis``, ``sweep``, ``cv`` or ``generic``


@dataclass(frozen=True)
class SchemaInput:
    """What a schema's loader is given of a run."""

    fields: Fields  # the results object
    inputs: InputFiles
    config: Mapping[str, Any] | None  # config.yaml's values, when read
    dropped: list[DroppedValue]  # collects the values left out


@dataclass(frozen=True)
class SchemaLoader:
    """A schema's block from the results object, its facts once the normalisation is known, and
    the fields it reads (``None``: a generic page shows every field)."""

    blocks: Callable[[SchemaInput], Blocks]
    facts: Callable[[SchemaInput, Blocks, Normalization], list[Fact]]
    known: KnownFields | None


def _snis_facts(given: SchemaInput, blocks: Blocks, normalization: Normalization) -> list[Fact]:
    facts = snis_facts(given.fields, blocks["snis"], normalization)
    return facts + (snis_config_facts(given.config) if given.config is not None else [])


def _sweep_facts(given: SchemaInput, blocks: Blocks, normalization: Normalization) -> list[Fact]:
    timing = timing_facts(given.fields.sub("timing"), "Time")
    return [Fact("Normalisation", normalization.true_mode), *timing]


def _times(n: int | None, value: float | None) -> float | None:
    return None if n is None or value is None else n * value


def _cv_facts(given: SchemaInput, blocks: Blocks, normalization: Normalization) -> list[Fact]:
    cv: CvData = blocks["cv"]
    v_stats = given.fields.sub("v_stats")
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
        *cv_setting_facts(given.fields),
        *timing_facts(given.fields.sub("timing_sec"), "Time"),
    ]


def _no_facts(given: SchemaInput, blocks: Blocks, normalization: Normalization) -> list[Fact]:
    return []


SCHEMA_LOADERS: dict[Schema, SchemaLoader] = {
    Schema.SNIS: SchemaLoader(
        lambda g: {"snis": load_snis(g.fields, g.dropped)}, _snis_facts, SNIS_FIELDS
    ),
    Schema.SWEEP: SchemaLoader(
        lambda g: {"sweep": load_sweep(g.fields, g.dropped)}, _sweep_facts, SWEEP_FIELDS
    ),
    Schema.CV: SchemaLoader(
        lambda g: {"cv": load_cv(g.fields, g.inputs.artifacts, g.dropped)}, _cv_facts, CV_FIELDS
    ),
    Schema.GENERIC: SchemaLoader(
        lambda g: {"generic": tuple(generic_fields(g.fields.data))[:GENERIC_MAX_FIELDS]},
        _no_facts,
        None,
    ),
}
KNOWN_FIELDS: dict[Schema, KnownFields] = {
    schema: loader.known for schema, loader in SCHEMA_LOADERS.items() if loader.known is not None
}
