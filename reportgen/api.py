"""The Python API for notebooks: a results tree as ``build`` reads it, numbers as the site
publishes them.

``reportgen.open(path, **settings)`` discovers the tree with the same rules, tree file
(``reportgen.toml``) and settings schema as the command line; each run is loaded and analysed
once, on first use, by the build's own stages. Every table is a pandas DataFrame (the
``notebook`` extra) whose values are those of the site's ``summary.json`` and CSV twins.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import Field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reportgen import api_tables
from reportgen.discover import GroupRef, RunRef, Skipped, discover
from reportgen.setting_spec import specs
from reportgen.settings import (
    BuildOptions,
    ReadOptions,
    SettingError,
    TreeSettings,
    checked_value,
    resolve,
    spec,
)
from reportgen.treefile import TreeFile, read_tree_file

if TYPE_CHECKING:
    from reportgen.analysis import RunAnalysis
    from reportgen.analysis.group import GroupAnalysis, GroupSettings
    from reportgen.analysis.pooling import PooledEta
    from reportgen.analysis.populations import Population
    from reportgen.analysis.record import RunRecord
    from reportgen.build.plan import GroupInput
    from reportgen.charts import Chart
    from reportgen.pages.run_charts import ChartSet

__all__ = ["Group", "Run", "Tree", "open"]
T = TypeVar("T")

# what a notebook may set: how the tree is read and analysed (the batch-size comparison's draws
# too), and how many points a chart draws
NOTEBOOK_FIELDS = frozenset(f.name for f in specs(ReadOptions)) | {"draws", "max_points"}


def keyword(item: Field[Any]) -> str:
    """A setting's keyword for ``open``: its long option without dashes (``max_file_size``,
    in MB like ``--max-file-size``)."""
    option = spec(item).option or item.name
    return option.lstrip("-").replace("-", "_")


def notebook_settings() -> dict[str, Field[Any]]:
    """``open``'s keywords and the settings they set."""
    return {keyword(f): f for f in specs(BuildOptions) if f.name in NOTEBOOK_FIELDS}


def notebook_options(results: Path, given: Mapping[str, object], tree: TreeFile) -> BuildOptions:
    """The options ``build`` would use for ``results`` with these keywords: a keyword wins over
    the environment, which wins over the tree file, which wins over the default."""
    known = notebook_settings()
    values: dict[str, object] = {"results": results}
    for name, raw in given.items():
        item = known.get(name)
        if item is None:
            raise TypeError(f"unknown setting {name!r} (settings: {', '.join(sorted(known))})")
        try:
            values[item.name] = checked_value(spec(item), raw)
        except SettingError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return resolve(BuildOptions, values, tree=TreeSettings(tree.settings))


def open(path: str | Path, **settings: object) -> Tree:
    """The results tree at ``path``. ``settings`` are the command line's analysis options by
    their long names (``seed``, ``bootstrap``, ``equivalence_margin``, ``draws``,
    ``follow_symlinks``, ``max_file_size``, ``max_points``); the tree file's values apply where
    none is given."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"results directory not found: {root}")
    tree_file = read_tree_file(root)
    return Tree(root, notebook_options(root, settings, tree_file), tree_file)


class Tree:
    """A results tree: its runs and groups, read lazily and once."""

    def __init__(self, root: Path, options: BuildOptions, tree_file: TreeFile) -> None:
        self.root = root
        self.options = options
        self.tree_file = tree_file
        found, skipped = discover(root, options.follow_symlinks)
        self.discovered = found
        self.skipped: tuple[Skipped, ...] = skipped
        self._runs = {ref.id: Run(ref, self) for ref in found.runs}
        self._groups = {ref.id: Group(ref, self) for ref in found.groups}

    def __repr__(self) -> str:
        return f"<reportgen.Tree {str(self.root)!r}: {len(self._runs)} runs>"

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(self._runs.values())

    @property
    def groups(self) -> tuple[Group, ...]:
        return tuple(self._groups.values())

    def run(self, run_id: str) -> Run:
        return _lookup(self._runs, run_id, "run")

    def group(self, group_id: str) -> Group:
        return _lookup(self._groups, group_id, "group")

    def group_of(self, run: Run) -> Group | None:
        """The innermost group holding ``run`` (the one whose page compares it with its
        siblings)."""
        holding = [g for g in self._groups.values() if run.id in g.ref.run_ids]
        return max(holding, key=lambda g: len(g.id), default=None)  # ancestors are prefixes

    @functools.cached_property
    def group_inputs(self) -> Mapping[str, tuple[GroupInput, ...]]:
        """Every group's own files (its CV batch aggregate), read once as the build reads them."""
        from reportgen.build.plan import read_group_inputs

        return read_group_inputs(self.discovered, self.root, self.options.max_bytes)

    def group_settings(self) -> GroupSettings:
        """The group stage's settings, as ``build`` derives them from these options."""
        from reportgen.analysis.group import GroupSettings
        from reportgen.settings import derive

        tree_file = self.tree_file
        return derive(
            GroupSettings, self.options, incidental=tree_file.incidental, fit_windows=tree_file.fits
        )

    def etas(self) -> Any:
        """One row per run and η (runs read successfully): every per-η field of the runs'
        ``summary.json``, the differences with their paired SEs, the run's group and its
        population there."""
        rows = [row for run in self.runs for row in run.eta_rows()]
        return api_tables.frame(rows, api_tables.LEADING)

    def findings(self) -> Any:
        """Every run's findings, one row each (as ``summary.json`` lists them)."""
        rows = [row for run in self.runs for row in run.finding_rows()]
        return api_tables.finding_frame(rows)


class Run:
    """One run; it is loaded and analysed the first time a number of it is asked for."""

    def __init__(self, ref: RunRef, tree: Tree) -> None:
        self.ref = ref
        self.id = ref.id
        self._tree = tree

    def __repr__(self) -> str:
        return f"<reportgen.Run {self.id!r}>"

    @functools.cached_property
    def _read(self) -> tuple[RunRecord, RunAnalysis | None]:
        from reportgen.api_read import read_run

        tree = self._tree
        labels = tree.tree_file.for_run(self.ref.id, self.ref.source)
        return read_run(self.ref, tree.root, tree.options, labels.labels)

    @property
    def record(self) -> RunRecord:
        """The run's ``RunRecord``: what the site's pages and twins are made from."""
        return self._read[0]

    @property
    def analysis(self) -> RunAnalysis | None:
        """The full analysis (``None`` when the run could not be read: see ``findings``)."""
        return self._read[1]

    def summary(self) -> dict[str, Any]:
        """The run's ``summary.json``, as the site writes it."""
        from reportgen.pages import serialize

        return serialize.summary_json(self.record)

    def eta_rows(self, group: Group | None = None) -> list[dict[str, Any]]:
        """``etas`` as rows; the population is the one of ``group`` (default: the innermost)."""
        group = group or self._tree.group_of(self)
        population = group.population_of(self.id) if group is not None else None
        label = population.label if population is not None else None
        return api_tables.eta_rows(self.record, group.id if group else None, label)

    def etas(self) -> Any:
        """One row per η: as ``Tree.etas`` for this run."""
        return api_tables.frame(self.eta_rows(), api_tables.LEADING)

    def findings(self) -> Any:
        return api_tables.finding_frame(self.finding_rows())

    def finding_rows(self) -> list[dict[str, Any]]:
        return api_tables.finding_rows(self.id, self.record.findings)

    def contributions(self, eta: float | None = None) -> Any:
        """The per-sequence contributions (the run's ``contributions.csv``), at one η if given
        (matched within the site's η tolerance)."""
        from reportgen.analysis.stats import same_eta

        rows = self.analysis.contributions if self.analysis is not None else ()
        if eta is not None:
            rows = tuple(c for c in rows if same_eta(c.eta, eta))
        return api_tables.contribution_rows(rows)

    @functools.cached_property
    def _charts(self) -> ChartSet:
        from reportgen.pages.run_charts import ChartSet, run_charts

        if self.analysis is None:
            return ChartSet()
        return run_charts(self.analysis, self._tree.options.max_points)

    def chart_names(self) -> tuple[str, ...]:
        """The charts of the run's page, by name (``eta-curve``, …)."""
        return tuple(c.id for c in self._charts.all_charts())

    def chart(self, name: str) -> Any:
        """The page's chart ``name`` as an ``altair`` chart with its data: shown inline in
        Jupyter, ``.save()`` for a file."""
        from reportgen.api_read import altair_chart

        found: dict[str, Chart] = {c.id: c for c in self._charts.all_charts()}
        chart = _lookup(found, name, f"chart of run {self.id}")
        return altair_chart(self._charts.standalone_spec(chart))


class Group:
    """A directory of runs: its populations (runs that may be pooled) and their pooled
    estimates."""

    def __init__(self, ref: GroupRef, tree: Tree) -> None:
        self.ref = ref
        self.id = ref.id
        self._tree = tree

    def __repr__(self) -> str:
        return f"<reportgen.Group {self.id!r}: {len(self.ref.run_ids)} runs>"

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(self._tree.run(r) for r in self.ref.run_ids)

    def records(self) -> dict[str, RunRecord]:
        return {run.id: run.record for run in self.runs}

    @functools.cached_property
    def populations(self) -> tuple[Population, ...]:
        """The group's populations, as its page decides them (byte-identical copies once)."""
        incidental = self._tree.tree_file.incidental
        return api_tables.group_populations(list(self.records().values()), incidental)

    def population_of(self, run_id: str) -> Population | None:
        return next((p for p in self.populations if run_id in p.run_ids), None)

    def pooled_estimates(self) -> list[tuple[Population, tuple[PooledEta, ...]]]:
        """Per population its runs pooled per η (fixed effect, Cochran's Q, I², τ²)."""
        margin = self._tree.options.equivalence_margin
        return api_tables.pooled_by_population(self.populations, self.records(), margin)

    def pooled(self) -> Any:
        """One row per population and η: the pooled difference and ratio of each
        approximation with SE, z, heterogeneity and random effects; never across
        populations."""
        rows = api_tables.pooled_rows(self.pooled_estimates())
        return api_tables.frame(rows, api_tables.POOLED_LEADING)

    @functools.cached_property
    def analysis(self) -> GroupAnalysis:
        """The group's statistics as its page computes them: populations, pooled estimates,
        fits, the batch-size comparison (drawn from the runs' sequences) and its findings."""
        from reportgen.analysis.group import analyze_group
        from reportgen.build.group_render import aggregate_files

        tree = self._tree
        analyses = {run.id: run.analysis for run in self.runs}
        return analyze_group(
            self.id,
            [run.record for run in self.runs],
            settings=tree.group_settings(),
            child_runs=[tree.group(c).ref.run_ids for c in self.ref.child_group_ids],
            samples=lambda run_id: a.sample if (a := analyses.get(run_id)) else None,
            aggregate=aggregate_files(tree.group_inputs.get(self.id, ())),
        )

    def findings(self) -> Any:
        """The group's own findings (heterogeneous populations, copies, its CV batch
        aggregate), one row each."""
        rows = api_tables.finding_rows(self.id, self.analysis.findings, "group")
        return api_tables.finding_frame(rows, "group")

    @functools.cached_property
    def _charts(self) -> ChartSet:
        from reportgen.pages.group import group_chart_set

        return group_chart_set(self.ref, self.analysis, self.records())

    def chart_names(self) -> tuple[str, ...]:
        """The charts of the group's page, by name."""
        return tuple(c.id for c in self._charts.all_charts())

    def chart(self, name: str) -> Any:
        """The page's chart ``name`` as an ``altair`` chart with its data."""
        from reportgen.api_read import altair_chart

        found: dict[str, Chart] = {c.id: c for c in self._charts.all_charts()}
        chart = _lookup(found, name, f"chart of group {self.id}")
        return altair_chart(self._charts.standalone_spec(chart))

    def etas(self) -> Any:
        """``Tree.etas`` for this group's runs."""
        rows = [row for run in self.runs for row in run.eta_rows(self)]
        return api_tables.frame(rows, api_tables.LEADING)


def _lookup(items: Mapping[str, T], key: str, what: str) -> T:
    if key in items:
        return items[key]
    known = ", ".join(list(items)[:5])
    raise KeyError(f"no {what} {key!r} (there are {len(items)}; e.g. {known})")
