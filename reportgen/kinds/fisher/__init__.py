"""Fisher-kernel outlier-diagnostics directories (kernel_update.npy and its companions).

The stages, one module each (this package imports none of them, so that discovery can import
``detect`` alone):

- ``detect.recognise(directory, names, read) -> bool``: cheap, standard library only;
- ``load.load(directory, read) -> FisherRun | KindFailure``: never raises;
- ``analysis.analyze(run) -> FisherAnalysis``: pure numpy;
- ``checks.checks(analysis) -> tuple[Finding, ...]`` and ``checks.check_infos()``;
- ``twin.summary_json(analysis, findings) -> dict`` (tests/schemas/fisher.schema.json);
- ``page.page(analysis, site, meta, findings) -> PageOutput`` (templates/kind_fisher.html);
- ``guide.GUIDE_MARKDOWN``: the kind's section of the guide page.
"""
