"""The checks the build itself runs on every kind: a study that could not be loaded, a kind that
raised, a plug-in that could not take part (standard library only)."""

from __future__ import annotations

from reportgen.findings import CheckInfo

STUDY_FAILED = "study-unreadable"
KIND_FAILED = "kind-failed"
PLUGIN_FAILED = "plugin-failed"

STAGE_CHECKS = (
    CheckInfo(
        STUDY_FAILED,
        "error",
        "A study's files could not be used",
        "The kind recognised the files by name and first bytes, but none could be loaded: the "
        "message says which file and why. The files stay listed under the study's inputs, and "
        "no page is written for it.",
        "inputs",
    ),
    CheckInfo(
        KIND_FAILED,
        "error",
        "A kind raised while loading, analysing or rendering a study",
        "The study has no page tonight; every other page is built. The message names the kind "
        "and where it came from (built in, or the plug-in's entry point). Run with `-v` for a "
        "traceback and report it to the kind's authors.",
        "findings",
    ),
    CheckInfo(
        PLUGIN_FAILED,
        "error",
        "A kind plug-in could not take part",
        "An installed plug-in of the `reportgen.kinds` entry-point group failed to import, is "
        "not a kind, or raised while recognising files. Only its own files are affected: they "
        "are listed as not claimed. Fix or uninstall the plug-in named in the message.",
        "findings",
    ),
)
