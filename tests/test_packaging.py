"""The wheel as the package index and pip see it: licence, typing marker, schemas, metadata."""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from email.message import Message
from pathlib import Path

import pytest

from reportgen.schemas import KINDS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    pytest.importorskip("hatchling")
    pytest.importorskip("hatch_fancy_pypi_readme")
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", str(out), str(ROOT)], check=True, capture_output=True)
    return zipfile.ZipFile(next(out.glob("reportgen-*.whl")))


def metadata(wheel: zipfile.ZipFile) -> Message:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return email.parser.Parser().parsestr(wheel.read(name).decode("utf-8"))


def test_wheel_ships_licence_typing_marker_and_schemas(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    licences = [n for n in names if ".dist-info/" in n and n.endswith("LICENSE")]
    assert len(licences) == 1 and b"MIT License" in wheel.read(licences[0])
    assert "reportgen/py.typed" in names
    for kind in KINDS:
        assert f"reportgen/schemas/{kind}.schema.json" in names


def test_metadata_states_licence_pythons_and_working_floors(wheel: zipfile.ZipFile) -> None:
    meta = metadata(wheel)
    assert "MIT" in (meta["License-Expression"] or meta["License"] or "")
    classifiers = meta.get_all("Classifier") or []
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    requires = meta.get_all("Requires-Dist") or []
    assert "numpy>=2.2" in requires and "vl-convert-python>=1.9" in requires
    assert "notebook" in (meta.get_all("Provides-Extra") or [])
    assert "pandas>=2.2.3; extra == 'notebook'" in requires  # pandas is optional
    assert not any(r.startswith("pandas") and "extra" not in r for r in requires)
    assert meta["Requires-Python"] == ">=3.11"


def test_long_description_is_the_readme_without_repository_images(
    wheel: zipfile.ZipFile,
) -> None:
    meta = metadata(wheel)
    description = str(meta.get_payload())
    assert meta["Description-Content-Type"] == "text/markdown"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/" in readme  # the repository's README shows screenshots and links docs/ ...
    assert "](docs/" not in description  # ... which the package index could not resolve
    assert "[docs/performance.md](docs/performance.md)" in readme
    assert "in docs/performance.md." in description  # the link's text stays
    first_paragraph = readme.split("\n\n")[1]
    assert first_paragraph in description
