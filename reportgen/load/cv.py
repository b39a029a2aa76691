"""The control-variate schema generation."""

from __future__ import annotations

from reportgen.load.fields import Fields
from reportgen.load.models import CvData, CvFeature

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
