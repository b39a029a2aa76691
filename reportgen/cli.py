"""Command line: ``reportgen build | check | demo | completion``, generated from ``settings``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import Field
from pathlib import Path
from typing import Any, NoReturn

from reportgen import __version__, class_code, collector, streams

class_code.install("startup")  # before the settings' and the planner's dataclasses are made

from reportgen.settings import (  # noqa: E402
    COMMANDS,
    FIGURE_FORMATS,
    FIGURE_THEMES,
    SECTIONS,
    BuildSettings,
    CheckSettings,
    DemoSettings,
    SettingError,
    Spec,
    TreeSettings,
    build_options,
    default_of,
    default_text,
    effective_fail_on,
    options,
    parse_text,
    range_text,
    resolve,
    section,
    spec,
)

__all__ = ["FIGURE_FORMATS", "FIGURE_THEMES", "main", "script"]

EXIT_OK = 0
EXIT_RUNS_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away (`| head`)
EXIT_OUTPUT_FAILED = 74  # sysexits' EX_IOERR: standard output could not be written (/dev/full)

SITE_EXIT_CODES = """\
exit codes:
  0  every run rendered (and, with --fail-on or --strict, no finding at or above it)
  1  the site was written, but some runs or inputs could not be read (each is named),
     or a finding at or above --fail-on
  2  usage error, or nothing could be written"""

CHECK_EXIT_CODES = """\
exit codes:
  0  nothing at or above --fail-on fired
  1  something did, or a directory could not be read
  2  usage error"""

DESCRIPTION = """\
Turn a tree of entropy-experiment results into an offline static HTML site.

reportgen reads every results.json (and *results*.json) below a directory, with the
plan.json, config.yaml, *.md notes and images beside it; computes per-sequence
contributions and pitfall diagnostics exactly as the results guide defines them;
and writes per-run, per-group and site-wide pages that open straight from disk."""

# command → (one-line help, description, epilog)
COMMAND_TEXTS = {
    "build": (
        "build the site",
        "Build the site for RESULTS_DIR into OUT. Nothing in RESULTS_DIR is ever modified.\n"
        "Writes OUT/index.html, a page, summary.json and contributions.csv per run, a page and\n"
        "summary.json per group, manifest.json, diagnostics, guide and changes pages.\n"
        "Rebuilds are incremental: unchanged runs are not re-read. The new site is staged\n"
        "beside OUT and swapped in at the end, so a killed build leaves the old site intact.",
        SITE_EXIT_CODES + "\n\nexamples:\n"
        "  reportgen build results/ --open                  # build into site/ and open it\n"
        "  reportgen build results/ -o /var/www/entropy -j 4 -q   # nightly\n"
        "  reportgen build results/ --strict                # CI: warnings fail the job\n"
        "  reportgen build results/ --figures svg,pdf       # every chart as a file too\n"
        "  reportgen build results/ --single-file diagnostics_run/full_data/E_256/run_01 \\\n"
        "      -o run01.html",
    ),
    "check": (
        "run the diagnostics without building a site (for CI gating)",
        "Analyse every run in RESULTS_DIR and print its findings; writes nothing.",
        CHECK_EXIT_CODES + "\n\nexamples:\n"
        "  reportgen check results/ --fail-on warning\n"
        "  reportgen check results/ --format junit > reportgen.xml       # CI test report\n"
        '  reportgen check results/ --format markdown >> "$GITHUB_STEP_SUMMARY"\n'
        "  reportgen check results/ --format json | jq .totals",
    ),
    "demo": (
        "generate the embedded sample tree and build it",
        "Generate a small sample results tree (all three schema generations) and build its site\n"
        "into OUT. The tree is made in a temporary directory and deleted after the build; with\n"
        "--tree DIR it is written to DIR and kept (to read, edit, or build again).",
        SITE_EXIT_CODES + "\n\nexamples:\n  reportgen demo -o demo-site --open\n"
        "  reportgen demo --tree demo-results -o demo-site   # keep the tree\n"
        "  reportgen build demo-results -o demo-site         # and build it again",
    ),
}

log = logging.getLogger("reportgen")


class Progress:
    """A one-line progress bar with counts, rate and ETA on a TTY; silent otherwise."""

    def __init__(self, enabled: bool, clock: Any = time.monotonic) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.clock = clock
        self.last = ""
        self.start: tuple[float, int] | None = None  # when and at which count work began

    def line(self, done: int, total: int, label: str) -> str:
        now = self.clock()
        if self.start is None or done < self.start[1]:
            self.start = (now, done)  # carried-over runs are not work: the rate starts here
        began, first = self.start
        width = 30
        filled = width * done // total
        bar = "█" * filled + "·" * (width - filled)
        text = f"{label:<6} {bar} {done}/{total}"
        elapsed, finished = now - began, done - first
        if finished > 0 and elapsed > 0:
            rate = finished / elapsed
            eta = int((total - done) / rate)
            text += f"  {rate:.1f}/s  ETA {eta // 60}:{eta % 60:02d}"
        return text

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled or total == 0:
            return
        text = self.line(done, total, label)
        if text == self.last and done != total:
            return
        self.last = text
        sys.stderr.write(f"\r{text}\x1b[K")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


class Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit code 2 (argparse prints the whole usage)."""

    commands: dict[str, argparse.ArgumentParser]  # the subcommands' parsers, by name

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's, but an unknown option is the named command's error (argparse leaves
        it to the top parser, whose help does not list the command's options)."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            command = getattr(self, "commands", {}).get(getattr(parsed, "command", None), self)
            command.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


# --- the parser, generated from the settings -------------------------------------------------


def help_text(item: Field[Any]) -> str:
    found = spec(item)
    notes = [f"default: {default_text(item)}"] if found.kind not in ("flag", "count") else []
    if range_text(found):
        notes.append(range_text(found))
    if found.env:
        notes.append(f"env {found.env}")
    if found.key:
        notes.append(f"tree-file key {found.key}")
    text = found.help + (f" ({'; '.join(notes)})" if notes else "")
    return text.replace("%", "%%")


def _value_parser(found: Spec) -> Any:
    def parse(text: str) -> object:
        try:
            return parse_text(found, text)
        except SettingError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = found.kind  # what argparse names in its message
    return parse


def _argument(item: Field[Any]) -> dict[str, Any]:
    found = spec(item)
    kwargs: dict[str, Any] = {"help": help_text(item), "dest": item.name}
    if found.kind == "flag":
        return kwargs | {"action": "store_true", "default": argparse.SUPPRESS}
    if found.kind == "count":
        return kwargs | {"action": "count", "default": argparse.SUPPRESS}
    kwargs |= {"type": _value_parser(found), "metavar": found.metavar}
    if found.kind == "choice":  # argparse shows them, shell completion offers them
        kwargs |= {"choices": found.choices, "metavar": None}
    if not found.flags[0].startswith("-"):  # the positional: its default is argparse's
        del kwargs["dest"]
        return kwargs | {"nargs": "?", "default": default_of(item)}
    return kwargs | {"default": argparse.SUPPRESS}


def add_settings(parser: argparse.ArgumentParser, cls: type[Any]) -> None:
    """One argument per option of ``cls``, in sections (the command's own options first)."""
    groups = {title: parser.add_argument_group(title) for title in SECTIONS.values()}
    for item in options(cls):
        found = spec(item)
        flags = found.flags if found.flags[0].startswith("-") else (item.name,)
        title = section(cls, item.name)
        group = parser if title is None else groups[title]
        action = group.add_argument(*flags, **_argument(item))
        if found.kind == "path":  # shell completion (shtab) reads this attribute
            action.complete = {"bash": "_shtab_compgen_dirs", "zsh": "_files -/"}  # type: ignore[attr-defined]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, the other commands' options are left out (they
    cost a no-op build's start-up time, and a command line names one command)."""
    parser = Parser(
        prog="reportgen",
        description=DESCRIPTION,
        epilog=SITE_EXIT_CODES + "\n\nexample:\n  reportgen build results/ --open",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reportgen {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    commands_by_name: dict[str, argparse.ArgumentParser] = {}
    parser.commands = commands_by_name
    for name, cls in COMMANDS.items():
        short, description, epilog = COMMAND_TEXTS[name]
        command = commands.add_parser(
            name,
            help=short,
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only in (None, name):
            add_settings(command, cls)
        commands_by_name[name] = command
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print the completion script for SHELL.",
        epilog="examples:\n  reportgen completion bash > ~/.local/share/bash-completion/"
        "completions/reportgen\n  reportgen completion zsh > ~/.zfunc/_reportgen\n"
        "  reportgen completion fish > ~/.config/fish/completions/reportgen.fish",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser


# --- running the commands --------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(quiet: bool, verbose: int) -> None:
    """reportgen's own logger only: other libraries' logs (Markdown's debug lines) stay off."""
    level = logging.ERROR if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    for handler in [h for h in log.handlers if isinstance(h, _StderrHandler)]:
        log.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def _settings(args: argparse.Namespace) -> Any:
    given = {k: v for k, v in vars(args).items() if k != "command"}
    return resolve(COMMANDS[args.command], given, tree=_tree_settings(args))


def _tree_settings(args: argparse.Namespace) -> TreeSettings | None:
    """The settings of the tree's reportgen.toml (``SettingError`` names its line and key)."""
    from reportgen.treefile import TreeFileError, read_tree_file

    if args.command == "demo":  # its tree is generated after the settings are resolved
        return None
    results = Path(getattr(args, "results", None) or "results")
    if not results.is_dir():
        return None
    try:
        return TreeSettings(read_tree_file(results).settings)
    except TreeFileError as exc:
        raise SettingError(str(exc)) from None


def _build(settings: BuildSettings | DemoSettings, results: Path) -> int:
    from reportgen.build import build
    from reportgen.write import WriteError

    if not results.is_dir():
        log.error("reportgen: results directory not found: %s", results)
        return EXIT_USAGE
    options = build_options(settings, results=results)
    try:
        result = build(options, progress=Progress(not settings.quiet))
    except (WriteError, OSError) as exc:
        prefix = "" if isinstance(exc, WriteError) else "could not write the site: "
        log.error("reportgen: %s%s", prefix, exc)
        return EXIT_USAGE
    threshold = effective_fail_on(settings.fail_on, settings.strict)
    code = EXIT_RUNS_FAILED if result.fails(threshold) else EXIT_OK
    if not settings.quiet:
        for line in result.report_lines(verbose=settings.verbose > 0):
            print(line)
    summary = result.summary_line(threshold, code)  # stderr when -q: the one line of a failure
    if not settings.quiet or code != EXIT_OK:
        print(summary, file=sys.stderr if settings.quiet else sys.stdout)
    if settings.open:
        import webbrowser

        page = options.out if options.single_file else options.out / "index.html"
        webbrowser.open(page.resolve().as_uri())
    return code


def _run_check(settings: CheckSettings) -> int:
    from reportgen.check import run_check

    if not settings.results.is_dir():
        log.error("reportgen: results directory not found: %s", settings.results)
        return EXIT_USAGE
    return run_check(settings, sys.stdout)


def _run_demo(settings: DemoSettings, tree: Path | None) -> int:
    """The sample tree generated (in ``tree``, kept, or a temporary directory) and built."""
    import tempfile

    if tree is None:
        with tempfile.TemporaryDirectory(prefix="reportgen-demo-") as tmp:
            return _build(settings, _sample_tree(settings, Path(tmp) / "results"))
    if tree.exists() and (not tree.is_dir() or any(tree.iterdir())):
        log.error("reportgen demo: --tree %s exists and is not empty; choose another DIR", tree)
        return EXIT_USAGE
    try:
        results = _sample_tree(settings, tree)
    except OSError as exc:
        log.error("reportgen demo: cannot write the sample tree to %s: %s", tree, exc)
        return EXIT_USAGE
    return _build(settings, results)


def _sample_tree(settings: DemoSettings, root: Path) -> Path:
    from reportgen import demo

    return demo.generate_sample_tree(
        root, seed=settings.sample_seed, inference_cases=True, next_runner=True, studies=True
    )


def _run_completion(shell: str) -> int:
    import shtab

    print(shtab.complete(build_parser(), shell=shell), end="")
    return EXIT_OK


def _tolerant_streams() -> None:
    """Names the terminal cannot encode (``PYTHONIOENCODING=ascii``) print escaped, not crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "completion":
        return _run_completion(args.shell)
    configure_logging(getattr(args, "quiet", False), getattr(args, "verbose", 0))
    try:
        settings = _settings(args)
    except SettingError as exc:
        sys.stderr.write(f"reportgen {args.command}: error: {exc}\n")
        return EXIT_USAGE
    if isinstance(settings, BuildSettings):
        return _build(settings, settings.results)
    if isinstance(settings, CheckSettings):
        return _run_check(settings)
    return _run_demo(settings, settings.tree)


def _command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word that is not an option), if it is one."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; Ctrl-C, a closed pipe and output that cannot be written end it with
    one line, never a traceback."""
    with streams.standard_streams(), collector.fewer_collections():
        return _main(argv)


def script() -> int:
    """``main()`` as the ``reportgen`` command and ``python -m reportgen`` run it: in a process
    that ends with it, so what it made is left to the exit (``collector.leave_to_exit``)."""
    collector.own_process()
    code = main()
    collector.leave_to_exit()
    return code


def _main(argv: Sequence[str] | None) -> int:
    _tolerant_streams()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        code = streams.flushed(_dispatch(build_parser(_command_named(argv)).parse_args(argv)))
        class_code.save()
        return code
    except KeyboardInterrupt:  # the staging directory is gone already (SiteWriter.__exit__)
        sys.stderr.write("reportgen: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except streams.OutputError as exc:
        streams.output_failed(exc)
        return EXIT_OUTPUT_FAILED


def _silence_stdout() -> None:
    """After EPIPE, Python's exit flush of stdout would fail again: point it at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(script())
