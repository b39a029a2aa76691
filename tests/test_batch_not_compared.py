"""A group whose subgroups split by batch size, but whose runs of different sizes all differ in
something else, says why it compares no batch sizes (``batch-sizes-not-compared``)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from reportgen.analysis.batch_pairs import batch_populations, not_compared, not_drawn
from reportgen.analysis.diagnostics import group_findings
from reportgen.analysis.points import RunPoints
from reportgen.analysis.populations import PopulationMember
from reportgen.demo.inference import UNPAIRED, UNPAIRED_SCHEDULES
from reportgen.load.parameters import Incidental
from reportgen.pages import paths

KEY = "config.optimizer.lr_schedule"
CHECK = "batch-sizes-not-compared"


def member(run_id: str, size: int, schedule: str) -> PopulationMember:
    return PopulationMember(
        run_id,
        "snis",
        fields_sha256="f",
        batch_size=size,
        normalization="per_token/per_token",
        parameter_digests=((KEY, schedule), ("config.batch_config.B_E", str(size))),
        parameter_values=((KEY, schedule), ("config.batch_config.B_E", str(size))),
    )


def unpaired(*runs: tuple[str, int, str]) -> Any:
    members = [member(*r) for r in runs]
    points = {m.id: RunPoints(m.id, m.batch_size, (), None) for m in members}
    return not_compared(batch_populations(members, Incidental(())), points)


def test_runs_alike_but_for_b_e_that_cannot_be_drawn_say_why() -> None:
    members = [member("S/run_01", 256, "cosine"), member("L/run_01", 512, "cosine")]
    points = {m.id: RunPoints(m.id, m.batch_size, (), None) for m in members}
    pops = batch_populations(members, Incidental(()))
    assert not_compared(pops, points) is None  # one population holds both sizes
    no_sample = not_drawn(pops, points, lambda run_id: None)
    assert no_sample is not None and no_sample.sizes == (256, 512)
    assert no_sample.why is not None and "no per-sequence sample" in no_sample.why
    (finding,) = group_findings((), (), no_sample)
    assert finding.message == f"batch sizes 256, 512 are not compared: {no_sample.why}"
    sampled = not_drawn(pops, points, lambda run_id: object())  # type: ignore[arg-type,return-value]
    assert sampled is not None and sampled.why is not None and "share no η" in sampled.why
    apart = [member("S/run_01", 256, "cosine"), member("L/run_01", 512, "constant")]
    assert not_drawn(batch_populations(apart, Incidental(())), points, lambda r: None) is None


def test_populations_of_disjoint_sizes_say_where_they_differ() -> None:
    found = unpaired(("S/run_01", 256, "cosine"), ("S/run_02", 256, "cosine"),
                     ("L/run_01", 512, "constant"))  # fmt: skip
    assert found is not None and found.sizes == (256, 512)
    small, large = found.populations
    assert (small.sizes, small.runs, large.sizes, large.runs) == ((256,), 2, (512,), 1)
    assert small.reason == (
        f"differs in more than the batch size: {KEY} = cosine (B_E 512: constant)"
    )
    assert large.reason.endswith(f"{KEY} = constant (B_E 256: cosine)")
    (finding,) = group_findings((), (), found)
    assert (finding.id, finding.severity) == (CHECK, "info")
    assert finding.message.startswith("batch sizes 256, 512 are not compared")
    assert "no run of one batch size shares every configuration value but B_E" in finding.message
    assert f"B_E 256 (2 runs) differs in more than the batch size: {KEY} = cosine" in (
        finding.message
    )
    assert f"{KEY} = constant (B_E 256: cosine)" in finding.message


def test_a_population_of_two_sizes_is_compared_and_says_nothing() -> None:
    # the cosine runs of 256 and 512 are alike but for B_E: they are compared, the rest left out
    found = unpaired(("S/run_01", 256, "cosine"), ("L/run_01", 512, "cosine"),
                     ("L/run_02", 512, "constant"))  # fmt: skip
    assert found is None
    assert unpaired(("S/run_01", 256, "cosine"), ("S/run_02", 256, "constant")) is None
    assert group_findings((), (), None) == ()


def test_several_populations_of_one_size_each_name_the_others() -> None:
    found = unpaired(("A/run_01", 256, "cosine"), ("B/run_01", 256, "linear"),
                     ("C/run_01", 512, "constant"))  # fmt: skip
    assert found is not None
    cosine, linear, constant = found.populations
    for pop in (cosine, linear):
        assert "(B_E 512: constant)" in pop.reason and "B_E 256" not in pop.reason
    assert f"{KEY} = constant (B_E 256: cosine); {KEY} = constant (B_E 256: linear)" in (
        constant.reason
    )


# --- the demo site ---------------------------------------------------------------------------


def test_the_demo_group_says_why_it_compares_no_batch_sizes(demo_site: tuple[Path, Path]) -> None:
    _, site = demo_site
    summary = json.loads((site / paths.group_summary(UNPAIRED)).read_text())
    assert summary["batch_comparison"] == []
    (finding,) = [f for f in summary["findings"] if f["id"] == CHECK]
    assert finding["severity"] == "info"
    sizes = sorted(UNPAIRED_SCHEDULES)
    assert finding["message"].startswith(f"batch sizes {sizes[0]}, {sizes[1]} are not compared")
    for schedule in UNPAIRED_SCHEDULES.values():
        assert f'lr_schedule = "{schedule}"' in finding["message"]
    page = (site / paths.group_page(UNPAIRED)).read_text()
    start = page.index('<section id="batch"')
    section = html.unescape(re.sub(r"<[^>]+>", "", page[start : page.index("</section>", start)]))
    assert "the batch sizes are not compared" in " ".join(section.split())
    assert f'href="../../guide.html#check-{CHECK}"' in page
    diagnostics = (site / "diagnostics.html").read_text()
    assert f'>{UNPAIRED}</a></td>\n      <td><a href="guide.html#check-{CHECK}">' in diagnostics


def test_a_group_whose_batch_sizes_are_compared_has_no_such_finding(
    demo_site: tuple[Path, Path],
) -> None:
    _, site = demo_site
    group = "denominator_fix/run_with_denom_fix"
    summary = json.loads((site / paths.group_summary(group)).read_text())
    assert summary["batch_comparison"]
    assert CHECK not in [f["id"] for f in summary["findings"]]
    page = (site / paths.group_page(group)).read_text()
    assert "the batch sizes are not compared" not in " ".join(page.split())


def test_the_demo_group_without_per_sequence_samples_says_so(demo_site: tuple[Path, Path]) -> None:
    from reportgen.demo.inference import UNSAMPLED

    _, site = demo_site
    summary = json.loads((site / paths.group_summary(UNSAMPLED)).read_text())
    assert summary["batch_comparison"] == []
    (finding,) = [f for f in summary["findings"] if f["id"] == CHECK]
    assert finding["message"] == (
        "batch sizes 256, 512 are not compared: the runs alike but for B_E have no per-sequence "
        "sample (per-sequence contributions) in their larger batch sizes to draw smaller batches "
        "from"
    )
