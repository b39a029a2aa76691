"""The influence kind's section of the guide page (markdown): how the files are read and what
every number on the page is."""

GUIDE_MARKDOWN = """\
### Entropy influence directories

**What is read.** A directory with `summary.json` holding `plan`, `workspace` and
`evaluations`, beside `eval_NN_delta_matrix.npy`,
`eval_NN_per_sequence/{full,baseline,grad,baseline_plus_grad}/eta_<η>.npy`,
`eval_NN_grad_eta/delta_<η>.npy` (η written with `.` → `p` and `-` → `m`) and
`eval_NN_diagnostics.json`, where NN is the evaluation's `index`.

**The reading.** The update is v = v_baseline + Σᵢ vᵢ over the n workspace (update) sequences
i (`workspace.num_sequences`, named by `sequence_ids`). Every entropy change is a mean over the
m evaluation sequences j of the evaluation batch. At each η the arrays hold, per evaluation
sequence, the change under the whole update (`full`, m values), the baseline alone (`baseline`,
m), each direction alone (`grad`, n × m) and the baseline plus one direction
(`baseline_plus_grad`, n × m). The delta matrix is one η, `eta_reference` (a single η, so its
columns cannot be η): rows are the directions (`row_sums`), columns the evaluation sequences
(`column_sums`); the page says which array it reproduces at that η. `eta_per_sequence` is read
as each direction's δH per η (a flat list of n numbers is read as one η per direction),
`baseline_eta_delta` as δH_baseline per η, and `aggregate[].per_sequence_delta_sum` as the
runner's Σᵢ over the directions.

**The numbers.** δHᵢ = δH(v_baseline + vᵢ) − δH(v_baseline), the mean over j of
`baseline_plus_grad − baseline`. The sum rule: δH_full ≈ δH_baseline + Σᵢ δHᵢ, residual =
δH_full − δH_baseline − Σᵢ δHᵢ, computed both with the reported sum and with the sum from the
arrays. Its standard error is sd/√m of the per-sequence residual full_j − baseline_j − Σᵢ
(baseline_plus_grad_ij − baseline_j), treating the evaluation sequences as independent draws.
With the equivalence margin M (20 % by default) the rule *holds* when the residual's 90 %
interval (t, m − 1 degrees of freedom) lies inside ±M·|δH_full|, is *violated* when the residual
differs from 0 (|z| > 1.96) and exceeds that bound, and is *inconclusive* otherwise, or when
there are no arrays to give an SE. A reported sum equal to Σᵢ δH(v_baseline + vᵢ) counts the
baseline once per direction: it exceeds δH_full by (n − 1)·δH_baseline; its ratio to δH_full
carries the paired delta-method SE. Linearity: δHᵢ(η) = a·η + b·η² by least squares through the
origin, and the curvature share κ = b·η_max / (|a| + |b|·η_max), the quadratic term's part at
the largest η (0 for a line, ±1 for a parabola); its SE is the delta method's from the
evaluation sequences' own fits (else the fit's residuals, k − 2 degrees of freedom). A direction
is *linear* when κ's 90 % interval lies inside ±M, *curved* when κ differs from 0 and exceeds M,
else *inconclusive*. (An uncentred R² of a line through the origin passes a parabola at 0.92 on
a doubling η grid, so it is not the test.) The slope sᵢ of δHᵢ ≈ sᵢ·η has its SE from the
residual variance with k − 1 degrees of freedom. Proxies: grad-only δH(vᵢ) against δHᵢ, and Σᵢ
of their difference ± sd/√m, judged against ±M·|δH_full| the same way. Features: Spearman's ρ
between δHᵢ at η_ref and each per-direction list of `update_stats` and the diagnostics file,
with its 95 % interval (Fisher z, variance (1 + ρ²/2)/(n − 3)) and a two-sided permutation
p-value (every ordering up to 8 directions, else 9,999 seeded ones).
"""
