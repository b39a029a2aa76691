"""Entropy-influence directories (the influence runner's summary.json and eval_NN_* arrays).

The stages, one module each (this package imports none of them, so that discovery can import
``detect`` alone):

- ``detect.recognise(directory, names, read) -> bool``: cheap, standard library only;
- ``load.load(directory, read) -> InfluenceRun | KindFailure``: never raises;
- ``analysis.analyze(run) -> InfluenceAnalysis``: pure numpy;
- ``checks.checks(analysis) -> tuple[Finding, ...]`` and ``checks.check_infos()``;
- ``twin.summary_json(analysis, findings) -> dict`` (tests/schemas/influence.schema.json);
- ``page.page(analysis, site, meta, findings) -> PageOutput`` (templates/kind_influence.html);
- ``guide.GUIDE_MARKDOWN``: the kind's section of the guide page.
"""
