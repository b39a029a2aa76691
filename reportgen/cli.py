"""Command line: ``reportgen build | check | demo``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from reportgen import __version__

EXIT_OK = 0
EXIT_RUNS_FAILED = 1
EXIT_USAGE = 2
# Kept here so the CLI starts without importing vl-convert (charts.export has the same tuples).
FIGURE_FORMATS = ("svg", "png", "pdf")
FIGURE_THEMES = ("paper", "site")
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away (`| head`)

EXIT_CODES = """\
exit codes:
  0  every run rendered
  1  the site was written, but some runs or inputs could not be read (each is named)
  2  usage error, or nothing could be written"""

log = logging.getLogger("reportgen")


class Progress:
    """A one-line progress bar on a TTY; silent otherwise (CI logs stay clean)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.last = -1

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled or total == 0:
            return
        width = 30
        filled = width * done // total
        percent = 100 * done // total
        if percent == self.last and done != total:
            return
        self.last = percent
        bar = "█" * filled + "·" * (width - filled)
        sys.stderr.write(f"\r{label:<10} {bar} {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# Option limits, checked before anything runs: beyond them an option would cost memory no
# machine has (--draws asks numpy for draws × sequences floats) or overflow a 64-bit field.
MAX_JOBS = 256
MAX_FILE_MB = 65_536
MAX_DRAWS = 100_000
MAX_SEED = 2**32 - 1
MAX_POINTS = 1_000_000
MAX_BOOTSTRAP = 100_000


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``, else a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {low:,} and {high:,}, not {text[:40]}"
            )
        return value

    parse.__name__ = "integer"  # what argparse names in its message
    return parse


class Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit code 2 (argparse prints the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _figure_formats(text: str) -> tuple[str, ...]:
    formats = tuple(sorted({f.strip().lower() for f in text.split(",") if f.strip()}))
    unknown = set(formats) - set(FIGURE_FORMATS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown figure format(s): {', '.join(sorted(unknown))}")
    return formats


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail; tracebacks for failed runs"
    )


def _add_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        type=bounded_int(0, MAX_BOOTSTRAP),
        default=2000,
        metavar="N",
        help="paired bootstrap resamples per run for the 95 %% intervals (default: 2000; 0 turns "
        "the bootstrap off, the delta-method standard errors stay)",
    )


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("site"),
        metavar="OUT",
        help="output directory (default: site/)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=bounded_int(1, MAX_JOBS),
        default=min(os.cpu_count() or 1, MAX_JOBS),
        metavar="N",
        help="worker processes (default: all cores)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild everything, and replace a non-empty OUT that is not a site",
    )
    parser.add_argument("--title", default="Entropy experiments", help="site title")
    parser.add_argument(
        "--figures",
        type=_figure_formats,
        default=(),
        metavar="svg,png,pdf",
        help="also write static figure files (and each chart's data CSV) for every chart, "
        "listed on figures.html (slow; off by default)",
    )
    parser.add_argument(
        "--figure-theme",
        choices=FIGURE_THEMES,
        default="paper",
        help="style of the figure files: paper (default; sans-serif, labels ≥ 11 pt, "
        "colour-blind-safe palette, one- or two-column width) or site (as on the pages)",
    )
    parser.add_argument(
        "--single-file",
        metavar="RUN_ID",
        help="write one self-contained HTML file for one run to OUT (e.g. -o report.html)",
    )
    parser.add_argument(
        "--max-file-size",
        type=bounded_int(1, MAX_FILE_MB),
        default=256,
        metavar="MB",
        help=f"refuse results files larger than this (default: 256 MB; at most {MAX_FILE_MB:,})",
    )
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links that stay inside RESULTS_DIR (never outside)",
    )
    parser.add_argument(
        "--draws",
        type=bounded_int(1, MAX_DRAWS),
        default=1000,
        help="random subsets per η in the batch-size comparison "
        f"(default: 1000; 1 to {MAX_DRAWS:,})",
    )
    parser.add_argument(
        "--seed",
        type=bounded_int(0, MAX_SEED),
        default=0,
        help="seed of the batch-size subsampling and the bootstrap (0 to 2**32 - 1)",
    )
    _add_bootstrap(parser)
    parser.add_argument(
        "--max-points",
        type=bounded_int(1, MAX_POINTS),
        default=5000,
        help="downsample charts with more points than this "
        f"(default: 5000; at most {MAX_POINTS:,})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="reportgen",
        description=textwrap.dedent("""\
            Turn a tree of entropy-experiment results into an offline static HTML site.

            reportgen reads every results.json (and *results*.json) below a directory, with the
            plan.json, config.yaml, *.md notes and images beside it; computes per-sequence
            contributions and pitfall diagnostics exactly as the results guide defines them;
            and writes per-run, per-group and site-wide pages that open straight from disk."""),
        epilog=EXIT_CODES
        + "\n\nexample:\n  reportgen build results/ -o site/ && open site/index.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reportgen {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )

    build = commands.add_parser(
        "build",
        help="build the site",
        description=textwrap.dedent("""\
            Build the site for RESULTS_DIR into OUT. Nothing in RESULTS_DIR is ever modified.
            Writes OUT/index.html, a page, summary.json and contributions.csv per run, a page and
            summary.json per group, manifest.json, diagnostics, guide and changes pages.
            Rebuilds are incremental: unchanged runs are not re-read. The new site is staged
            beside OUT and swapped in at the end, so a killed build leaves the old site intact."""),
        epilog=EXIT_CODES + "\n\nexamples:\n  reportgen build results/\n"
        "  reportgen build results/ -o /var/www/entropy -j 4 -q\n"
        "  reportgen build results/ --single-file diagnostics_run/full_data/E_256/run_01 \\\n"
        "      -o run01.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument(
        "results",
        nargs="?",
        type=Path,
        default=Path("results"),
        metavar="RESULTS_DIR",
        help="the results tree (default: ./results)",
    )
    _add_build_options(build)
    _add_common(build)

    check = commands.add_parser(
        "check",
        help="run the diagnostics without building a site (for nightly gating)",
        description="Analyse every run in RESULTS_DIR and print its findings; writes nothing.",
        epilog="exit codes:\n  0  nothing at or above --fail-on fired\n  1  something did\n"
        "  2  usage error\n\nexample:\n  reportgen check results/ --format json --fail-on warning",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("results", type=Path, metavar="RESULTS_DIR")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument(
        "--fail-on",
        choices=("error", "warning", "info"),
        default="error",
        help="lowest severity that makes the exit code 1 (default: error)",
    )
    check.add_argument("--follow-symlinks", action="store_true")
    check.add_argument(
        "--max-file-size", type=bounded_int(1, MAX_FILE_MB), default=256, metavar="MB"
    )
    check.add_argument(
        "--seed", type=bounded_int(0, MAX_SEED), default=0, help="seed of the bootstrap"
    )
    _add_bootstrap(check)
    _add_common(check)

    demo = commands.add_parser(
        "demo",
        help="generate the embedded sample tree and build it",
        description="Generate a small sample results tree (all three schema generations) in a "
        "temporary directory and build its site into OUT.",
        epilog=EXIT_CODES + "\n\nexample:\n  reportgen demo -o demo-site",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--sample-seed",
        type=bounded_int(0, MAX_SEED),
        default=0,
        help="seed of the generated sample tree",
    )
    _add_build_options(demo)
    _add_common(demo)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose > 1 else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)


def _build_options(args: argparse.Namespace, results: Path) -> object:
    from reportgen.build import BuildOptions

    return BuildOptions(
        results=results,
        out=args.output,
        jobs=args.jobs,
        force=args.force,
        title=args.title,
        figures=args.figures,
        figure_theme=args.figure_theme,
        single_file=args.single_file,
        max_bytes=args.max_file_size * 1024 * 1024,
        follow_symlinks=args.follow_symlinks,
        draws=args.draws,
        seed=args.seed,
        bootstrap=args.bootstrap,
        max_points=args.max_points,
        verbose=args.verbose > 0,
    )


def _run_build(args: argparse.Namespace, results: Path) -> int:
    from reportgen.build import BuildOptions, build
    from reportgen.write import WriteError

    if not results.is_dir():
        log.error("reportgen: results directory not found: %s", results)
        return EXIT_USAGE
    options = _build_options(args, results)
    assert isinstance(options, BuildOptions)
    try:
        result = build(options, progress=Progress(not args.quiet))
    except WriteError as exc:
        log.error("reportgen: %s", exc)
        return EXIT_USAGE
    except OSError as exc:
        log.error("reportgen: could not write the site: %s", exc)
        return EXIT_USAGE
    if not args.quiet:
        for line in result.report_lines():
            print(line)
    return EXIT_RUNS_FAILED if result.failed_runs or result.unreadable else EXIT_OK


def _run_check(args: argparse.Namespace) -> int:
    from reportgen.check import run_check

    if not args.results.is_dir():
        log.error("reportgen: results directory not found: %s", args.results)
        return EXIT_USAGE
    return run_check(
        args.results,
        output_format=args.format,
        fail_on=args.fail_on,
        follow_symlinks=args.follow_symlinks,
        max_bytes=args.max_file_size * 1024 * 1024,
        stream=sys.stdout,
        bootstrap=args.bootstrap,
        seed=args.seed,
    )


def _run_demo(args: argparse.Namespace) -> int:
    import tempfile

    from reportgen.demo import generate_sample_tree

    with tempfile.TemporaryDirectory(prefix="reportgen-demo-") as tmp:
        results = generate_sample_tree(Path(tmp) / "results", seed=args.sample_seed)
        return _run_build(args, results)


def single_threaded_blas() -> None:
    """One BLAS thread per process, unless the user chose otherwise; call before numpy loads.

    reportgen parallelises over runs with worker processes (``-j``) and draws in threads; BLAS
    threads on top of them oversubscribe the cores and spin. Measured on the benchmark tree
    (50 runs, -j 2, 2 cores): cold build 14.0 s with OpenBLAS's default, 9.1 s with one thread.
    """
    for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def _tolerant_streams() -> None:
    """Names the terminal cannot encode (``PYTHONIOENCODING=ascii``) print escaped, not crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; Ctrl-C and a closed pipe end it with one line, never a traceback."""
    single_threaded_blas()
    _tolerant_streams()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        _configure_logging(args)
        if args.command == "build":
            return _run_build(args, args.results)
        if args.command == "check":
            return _run_check(args)
        return _run_demo(args)
    except KeyboardInterrupt:  # the staging directory is gone already (SiteWriter.__exit__)
        sys.stderr.write("reportgen: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """After EPIPE, Python's exit flush of stdout would fail again: point it at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
