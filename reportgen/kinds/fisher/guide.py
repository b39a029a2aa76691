"""The Fisher-kernel kind's section of the guide page (markdown): how the files are read and
what every number on the page is."""

GUIDE_MARKDOWN = """\
### Fisher-kernel directories

**What is read.** A directory with `kernel_update.npy` (a square array) and at least one
`*_sequences.json`; beside them `kernel_<split>.npy`, `influence_<split>.npy`,
`<split>_sequences.json`, `<split>_sequence_metrics.json`,
`<split>_kernel_metric_correlations.json`, `<split>_top_outliers.json` and
`outlier_pair_details.json`. Arrays are read without pickles.

**The reading.** K_ab = g_a·g_b between the n update sequences (the gradients of their
log-probabilities); another split's kernel has a row per sequence of that split and a column
per update sequence. Sequence ids are `U-<prompt>-<completion>`: the `<prompt>` part groups the
sequences by prompt. `influence_<split>` is read as K · advantages, the advantages of the update
sequences.

**The numbers.** The spectrum is that of (K + Kᵀ)/2; negative eigenvalues no larger than
n·ε·λ_max (ε of the stored dtype, the bound on what rounding the entries moves an eigenvalue by)
are rounding and are set to 0, larger ones are reported. pₖ = λₖ / Σλ; the effective rank is
exp(−Σ pₖ log pₖ) (Roy & Vetterli): n for a multiple of the identity, 1 for rank one; the top
share is p₁. Cosines are K_ab / √(K_aa·K_bb). A prompt's share of Σ|K| counts the entries in the
union of its sequences' rows and columns, so an entry between two prompts counts for both and
the shares sum to 1 + the cross-prompt fraction (they are not renormalised); the page also gives
the prompt's own block and the share equal entries would give, 1 − (1 − k/n)². Mean cosines
within and across prompts carry delete-one-prompt (cluster) jackknife standard errors (pairs
share sequences, and the sequences of a prompt share it); their difference is "within" an
absolute margin of ±0.1 on the cosine when its 90 % interval (t, G − 1 degrees of freedom for G
prompts) lies inside, "beyond" it when it differs from 0 and exceeds it, else "inconclusive".
The identity holds when |influence − K·A| ≤ (n + 2)·ε·(|K|·|A|) + ε·|influence| for every
sequence. The files' Pearson correlations are recomputed and Spearman's ρ computed on the same
values, each with its 95 % interval by Fisher z (atanh r ± 1.96/√(n − 3); for ρ the variance
(1 + ρ²/2)/(n − 3) of Bonett & Wright); they disagree in sign when the intervals lie on
opposite sides of 0, and in magnitude when the intervals do not overlap and ||r| − |ρ|| ≥ 0.3.
A field named like an entropy that equals minus the log-probability (to 1e-6) is a surprisal,
and the page says so. Eigenvalues no larger than n·ε·λ_max are left out of the spectrum chart:
rounding can move an eigenvalue that far.

**In words.** "Dominated by one prompt": a prompt's share ≥ 50 % and ≥ twice its equal-entries
share. "Far from the identity": effective rank below n/2. "Close to a multiple of the identity":
effective rank ≥ 0.9·n and mean |cosine| between different sequences ≤ 0.1. Heatmaps inline up
to 128 × 128 entries; larger kernels are shown as block means, and the page says so.
"""
