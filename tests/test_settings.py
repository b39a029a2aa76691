"""The settings schema: one declaration per setting, and everything generated from it agrees."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen import cli
from reportgen.analysis.group import GroupSettings
from reportgen.build import BuildOptions
from reportgen.pages.group import GroupPageSettings
from reportgen.pages.run import RunSettings
from reportgen.settings import (
    COMMANDS,
    MB,
    BuildSettings,
    CheckSettings,
    DemoSettings,
    SettingError,
    TreeSettings,
    TreeSettingsError,
    build_options,
    default_of,
    derive,
    effective_fail_on,
    options,
    resolve,
    spec,
    validate_tree_settings,
)
from tests.tools import options_table

ROOT = Path(__file__).resolve().parents[1]


def _parse(*argv: str) -> object:
    args = cli.build_parser().parse_args(list(argv))
    return resolve(COMMANDS[args.command], {k: v for k, v in vars(args).items() if k != "command"})


def test_readme_option_tables_match_the_schema() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- options:([\w-]+) -->", readme)
    assert sorted(blocks) == ["build", "check", "demo-only"]
    assert options_table.render(readme) == readme, "run python tests/tools/options_table.py"


def test_every_option_is_exercised_by_some_test() -> None:
    """Each option string of every command appears in the tests (beyond this schema test)."""
    parser = cli.build_parser()
    flags = {
        flag
        for action in parser._subparsers._group_actions  # type: ignore[union-attr]
        for sub in action.choices.values()  # type: ignore[union-attr]
        for option in sub._actions
        for flag in option.option_strings
        if flag.startswith("--") and flag != "--help"
    }
    text = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    assert flags and sorted(f for f in flags if f'"{f}' not in text) == []


def test_defaults_are_declared_once_and_reach_every_stage() -> None:
    options_ = BuildOptions()
    assert (options_.out, options_.bootstrap, options_.equivalence_margin) == (
        Path("site"),
        2000,
        0.2,
    )
    assert options_.jobs >= 1 and options_.max_bytes == 256 * MB
    # every field of a stage's settings comes from the options by name (or is the stage's own)
    stages: tuple[tuple[type, set[str]], ...] = (
        (RunSettings, {"inline_files"}),
        (GroupSettings, {"workers", "incidental", "fit_windows"}),
        (GroupPageSettings, set()),
    )
    for stage, own in stages:
        missing = {f.name for f in fields(stage)} - {f.name for f in fields(BuildOptions)}
        assert missing <= own, f"{stage.__name__} fields not in the schema: {missing - own}"
    changed = BuildOptions(seed=7, bootstrap=0, max_points=9, figures=("svg",), jobs=3)
    run = derive(RunSettings, changed, inline_files=True)
    assert (run.seed, run.bootstrap, run.max_points, run.figures, run.inline_files) == (
        7,
        0,
        9,
        ("svg",),
        True,
    )
    group = derive(GroupSettings, changed, workers=changed.jobs)
    assert (group.seed, group.workers) == (7, 3)
    assert derive(GroupPageSettings, changed).figures == ("svg",)


def test_command_line_values_become_build_options() -> None:
    settings = _parse(
        "build", "r", "-o", "out", "--max-file-size", "2", "--equivalence-margin", "0.05",
        "-vv", "--figures", "PDF,svg", "--title", "T",
    )  # fmt: skip
    assert isinstance(settings, BuildSettings)
    options_ = build_options(settings)
    assert options_.results == Path("r") and options_.out == Path("out")
    assert options_.max_bytes == 2 * MB and options_.equivalence_margin == 0.05
    assert options_.figures == ("pdf", "svg") and options_.title == "T"
    assert options_.verbose is True and settings.verbose == 2
    check = _parse("check", "r", "--equivalence-margin", "0.5", "--format", "junit")
    assert isinstance(check, CheckSettings)
    assert check.equivalence_margin == 0.5 and check.fail_on == "error"
    demo = _parse("demo", "--sample-seed", "3")
    assert isinstance(demo, DemoSettings) and demo.sample_seed == 3
    assert build_options(demo, results=Path("t")).results == Path("t")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "must be between 0 and 1 (exclusive), not 1"),
        ("0", "must be between 0 and 1 (exclusive), not 0"),
        ("-0.1", "must be between 0 and 1 (exclusive)"),
        ("nan", "must be between 0 and 1 (exclusive)"),
        ("a lot", "not a number: 'a lot'"),
    ],
)
def test_equivalence_margin_is_strictly_between_zero_and_one(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["check", "r", f"--equivalence-margin={value}"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--equivalence-margin" in err and message in err


def test_precedence_command_line_then_environment_then_tree_file_then_default() -> None:
    tree = TreeSettings({"title": "from the tree", "seed": 5})
    environ = {"REPORTGEN_JOBS": "3"}
    chosen = resolve(BuildSettings, {"seed": 9}, environ, tree)
    assert (chosen.seed, chosen.jobs, chosen.title, chosen.draws) == (9, 3, "from the tree", 1000)
    assert resolve(BuildSettings, {"jobs": 2}, environ).jobs == 2
    with pytest.raises(SettingError, match="REPORTGEN_JOBS: must be between 1 and 256, not 0"):
        resolve(BuildSettings, {}, {"REPORTGEN_JOBS": "0"})
    # check has no title: a tree file's title does not reach it
    assert not hasattr(resolve(CheckSettings, {}, {}, tree), "title")


def test_a_bad_environment_variable_is_a_one_line_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPORTGEN_JOBS", "many")
    assert cli.main(["build", str(tmp_path), "-o", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert err == "reportgen build: error: REPORTGEN_JOBS: not an integer: 'many'\n"
    assert not (tmp_path / "site").exists()


def test_tree_file_settings_are_validated_with_key_and_line() -> None:
    source = 'title = "Sweep"\n\n[settings]\nequivalence_margin = 1.5\n"seed" = 3\n'
    table = {"title": "Sweep", "equivalence_margin": 1.5, "seed": 3}
    error = validate_tree_settings(table, source)
    assert error == TreeSettingsError(
        "equivalence_margin", 4, "must be between 0 and 1 (exclusive), not 1.5"
    )
    assert str(error) == "line 4: equivalence_margin: must be between 0 and 1 (exclusive), not 1.5"
    good = validate_tree_settings({"title": "Sweep", "equivalence_margin": 0.1, "seed": 3}, source)
    assert good == TreeSettings({"title": "Sweep", "equivalence_margin": 0.1, "seed": 3})
    assert validate_tree_settings({"equivalence_margin": 1}, "") == TreeSettingsError(
        "equivalence_margin", None, "must be between 0 and 1 (exclusive), not 1"
    )


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"jobs": 4}, "jobs", "unknown setting"),  # the command line's, not the tree's
        ({"max_file_size": 9}, "max_file_size", "unknown setting"),  # no tree raises a limit
        ({"follow_symlinks": True}, "follow_symlinks", "unknown setting"),
        ({"titel": "x"}, "titel", "unknown setting (known: bootstrap, draws, "),
        ({"seed": True}, "seed", "must be an integer, not bool"),
        ({"seed": 1.5}, "seed", "must be an integer, not float"),
        ({"seed": -1}, "seed", "must be between 0 and 4,294,967,295, not -1"),
        ({"bootstrap": "100"}, "bootstrap", "must be an integer, not str"),
        ({"title": 3}, "title", "must be a string, not int"),
        ({"figure_theme": "dark"}, "figure_theme", "'dark' is not one of paper, site"),
        ({"equivalence_margin": "0.1"}, "equivalence_margin", "must be a number, not str"),
    ],
)
def test_tree_file_refuses(table: dict[str, object], key: str, message: str) -> None:
    source = "\n".join(f"{k} = 0" for k in table)
    error = validate_tree_settings(table, source)
    assert isinstance(error, TreeSettingsError)
    assert (error.key, error.line) == (key, 1) and error.message.startswith(message)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_margin_from_a_tree_file_is_accepted_exactly_inside_the_open_interval(m: float) -> None:
    result = validate_tree_settings({"equivalence_margin": m}, "")
    assert isinstance(result, TreeSettings) == (0 < m < 1)


def test_every_setting_has_help_and_a_valid_default() -> None:
    for cls in COMMANDS.values():
        for item in options(cls):
            found = spec(item)
            assert found.help and not found.help.endswith(".")
            value = default_of(item)
            if found.low is not None and isinstance(value, (int, float)):
                assert found.low <= value / found.unit <= (found.high or 0)
            if found.kind == "choice" and value is not None:
                assert value in found.choices


def test_strict_lowers_the_threshold_to_warnings_but_never_raises_it() -> None:
    assert effective_fail_on(None, False) is None
    assert effective_fail_on(None, True) == "warning"
    assert effective_fail_on("error", True) == "warning"
    assert effective_fail_on("info", True) == "info"
    assert effective_fail_on("error", False) == "error"


def test_help_lists_each_option_once_in_sections(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["build", "--help"])
    text = capsys.readouterr().out
    for title in ("the site:", "reading and analysis:", "exit code:", "console:", "examples:"):
        assert f"\n{title}\n" in text
    assert text.count("--equivalence-margin M") == 2  # usage line and its entry
    assert "(default: all cores; between 1 and 256; env REPORTGEN_JOBS)" in " ".join(text.split())
    assert "&& open" not in text and "\n  open " not in text  # no macOS-only `open`


def test_parser_for_one_command_equals_the_whole_parser_on_its_command_line() -> None:
    argv = ["check", "results", "--fail-on", "warning", "-q"]
    whole = cli.build_parser().parse_args(argv)
    alone = cli.build_parser(cli._command_named(argv)).parse_args(argv)
    assert vars(whole) == vars(alone)
    assert cli._command_named(["-q", "--version"]) is None
    with pytest.raises(SystemExit):
        cli.build_parser("build").parse_args(["check", "--no-such-option"])
    assert isinstance(cli.build_parser(), argparse.ArgumentParser)
