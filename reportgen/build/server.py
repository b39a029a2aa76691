"""The worker server: the process build workers are forked from (multiprocessing's forkserver).

It is started once per build process, before the workers are needed, and imports this module
as its preload. Importing it there ties the server's life to the build (the kernel kills it
when the build ends; its workers die with it in turn), limits BLAS to one thread before numpy
loads (so the server forks while single-threaded, and every worker inherits one BLAS thread),
imports the page code, compiles the templates and loads what every run page shows the same
(the checks' explanations) once for all workers. Imported anywhere else, it does nothing.
"""

from __future__ import annotations

import importlib
import os
import sys

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def is_worker_server() -> bool:
    """Whether this process is multiprocessing's fork server (it runs ``-c`` with that module)."""
    return sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules


def prepare() -> None:
    from reportgen import class_code, collector
    from reportgen.kinds.registry import BUILTIN_MODULES
    from reportgen.lifetime import die_with_parent

    die_with_parent()
    class_code.install("pages")  # the page code's dataclasses from stored code, as in the build
    for variable in BLAS_THREAD_VARIABLES:  # this process's environment only, not the build's
        os.environ[variable] = "1"
    import markdown  # noqa: F401  (imported where there is markdown, in every worker)
    import numpy.ma  # noqa: F401  (numpy's percentiles import it on first use, in every worker)

    from reportgen.pages import group, run  # noqa: F401  (numpy, Jinja and the analysis stack)
    from reportgen.pages.guide import check_explanations
    from reportgen.pages.render import warm_templates

    for module in BUILTIN_MODULES:  # the built-in kinds' page code (plug-ins: in each worker)
        importlib.import_module(module)

    warm_templates()
    check_explanations()  # read (or rendered) here once, for every worker's run pages
    class_code.save()
    collector.settle_before_forking()


if is_worker_server():
    prepare()
