"""The string operations that discovery and the status reader use on every path of a tree give
exactly what the pathlib and fnmatch spellings they replace give, on any path."""

from __future__ import annotations

import fnmatch
from pathlib import PurePosixPath

from hypothesis import example, given
from hypothesis import strategies as st

from reportgen.build.status_file import is_normal_site_path
from reportgen.discover import RESULTS_PATTERN, is_results_name, run_id, suffix
from reportgen.write import is_site_path, normal_site_path

# the characters that matter to these paths: separators, dots, the results name's letters
paths = st.text(alphabet="/.aRrEesultsjon_2", max_size=24)
names = st.text(alphabet=".aRrEesultsjon_2", max_size=16)


def pathlib_run_id(source: str) -> str:
    path = PurePosixPath(source)
    if path.name == "results.json" and str(path.parent) != ".":
        return str(path.parent)
    return str(path.parent / path.stem)


@given(paths)
@example("a/run_01/results.json")
@example("./a//b/results.json")
@example("/results.json")
@example("a/x_results.json")
def test_run_id_is_the_pathlib_one(source: str) -> None:
    if PurePosixPath(source).name:  # a path with a file name, as every caller gives
        assert run_id(source) == pathlib_run_id(source)


@given(names)
@example("a.png")
@example("..png")
@example("a.")
@example(".png")
def test_suffix_is_the_pathlib_one(name: str) -> None:
    assert suffix(name) == PurePosixPath(name).suffix


@given(names)
@example("Results.JSON")
@example("results.json.json")
@example("resultsjson")
def test_results_names_are_the_patterns(name: str) -> None:
    assert is_results_name(name) == fnmatch.fnmatchcase(name.lower(), RESULTS_PATTERN)


@given(paths)
@example("...")
@example("a/...")
@example("a/./b")
@example("a//b")
@example("/a")
def test_a_normal_site_path_is_what_the_writer_would_write(path: str) -> None:
    expected = is_site_path(path) and normal_site_path(path) == path
    assert is_normal_site_path(path) == expected
    assert not is_normal_site_path(7)
