"""``reportgen build`` in a process of its own, its group pages' forked copies counted, one
group's page made to fail or its copy to die (``tests/test_forked_pages.py``).

``python -m tests.forked_build MODE GROUP ARGS...``: MODE ``count``, ``fail`` (the group's page
raises, wherever it renders), ``die`` (the forked copy rendering it ends at once) or ``threads``
(each group's analysis notes, in the file ``$REPORTGEN_THREADS_LOG``, the threads its draws may
take and whether it ran in the build's process). Prints a JSON line: the forks made and the
command's exit code.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def main(mode: str, group_id: str, argv: list[str]) -> None:
    import reportgen.analysis.group as analysis
    import reportgen.build.forked as forked
    import reportgen.build.status as status
    from reportgen.cli import main as cli
    from reportgen.pages import group as pages

    status.RACY_NS = 0  # the tree was changed a moment ago
    build_process = os.getpid()
    forks: list[int] = []
    real_init, real_page = forked.Forked.__init__, pages.group_page
    real_analysis = analysis.analyze_group

    def counted(self: Any, call: Any) -> None:
        forks.append(1)
        real_init(self, call)

    def page(group: Any, *args: Any, **kwargs: Any) -> Any:
        if group.id == group_id and mode == "fail":
            raise ValueError("the page failed")
        if group.id == group_id and mode == "die" and os.getpid() != build_process:
            os._exit(3)
        return real_page(group, *args, **kwargs)

    def analysed(group: str, *args: Any, **kwargs: Any) -> Any:
        if mode == "threads":
            with open(os.environ["REPORTGEN_THREADS_LOG"], "a") as log:
                here = os.getpid() == build_process
                log.write(json.dumps([group, kwargs["settings"].workers, here]) + "\n")
        return real_analysis(group, *args, **kwargs)

    forked.Forked.__init__ = counted  # type: ignore[method-assign]
    pages.group_page = page
    analysis.analyze_group = analysed  # type: ignore[assignment]
    code = cli(argv)
    print(json.dumps({"forks": len(forks), "code": code}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
