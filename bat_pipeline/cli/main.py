"""`bat-pipeline`: the command line, a thin `main(argv) -> int`.

The parser lives here; each command lives in a module of its own (`bat_pipeline.cli.<name>`),
imported only when that command runs, so `--help` answers at once without Dagster, MLflow,
torch or Great Expectations. `--json` prints one JSON object on stdout; logs go to stderr.
Exit codes: 0 success, 1 the command ran and reports a failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from bat_pipeline.errors import EXIT_FAILED, EXIT_USAGE, ConfigError, UsageError, redacted
from bat_pipeline.process_env import PROCESS_ENV, is_set

#: command -> the module that holds its `cmd_<command>(args) -> int`
COMMAND_MODULES: dict[str, str] = {
    "ui": "bat_pipeline.cli.ui",
    "drift": "bat_pipeline.cli.drift",
    "generate": "bat_pipeline.cli.generate",
    "ingest": "bat_pipeline.cli.ingest",
    "inspect": "bat_pipeline.cli.inspect",
    "run": "bat_pipeline.cli.run",
    "score": "bat_pipeline.cli.score",
    "quality": "bat_pipeline.cli.quality",
    "status": "bat_pipeline.cli.models",
    "rollback": "bat_pipeline.cli.models",
    "demo": "bat_pipeline.cli.demo",
}


def command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs command `name` (its module is imported now)."""
    return getattr(importlib.import_module(COMMAND_MODULES[name]), f"cmd_{name}")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="F", help="YAML config (default: BAT_HOME/bat.yaml if present)"
    )
    common.add_argument("--home", metavar="DIR", help="state folder (default: $BAT_HOME or ./.bat)")
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    parser = argparse.ArgumentParser(
        prog="bat-pipeline",
        description="BAT: customer-behaviour prediction, from event logs to a promoted LSTM.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "demo", parents=[common], help="synthetic data -> full loop -> where to look"
    )
    p.add_argument("--fast", action="store_true", help="smaller data and fewer epochs (for tests)")

    p = sub.add_parser("generate", parents=[common], help="write synthetic daily event files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--users", type=_positive, default=2000)
    p.add_argument("--days", type=_positive, default=150)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", type=_date, default=date(2026, 1, 1), help="first day YYYY-MM-DD")
    p.add_argument("--drift-start", type=_date, help="first day of injected drift")
    p.add_argument("--drift", help="conversion_drop | mobile_shift | new_event_type | segment_mix")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")

    p = sub.add_parser("ingest", parents=[common], help="load event files (CSV, CSV.gz, Parquet)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders of files")

    p = sub.add_parser(
        "inspect",
        parents=[common],
        help="what a foreign log holds, and the data: config that maps it (writes nothing)",
    )
    p.add_argument("paths", nargs="+", metavar="FILE", help="CSV, CSV.gz or Parquet files")

    p = sub.add_parser(
        "run", parents=[common], help="features -> train -> evaluate -> gates -> promote"
    )
    p.add_argument("--as-of", type=_date, help="as-of date (default: the day after the last event)")
    p.add_argument(
        "--trigger",
        default="manual",
        choices=("manual", "schedule", "drift"),
        help=argparse.SUPPRESS,
    )

    p = sub.add_parser("score", parents=[common], help="champion scores for every known user")
    p.add_argument("--as-of", type=_date, help="as-of date (default: the day after the last event)")
    p.add_argument(
        "--out", required=True, metavar="FILE", help="output file (.csv, .csv.gz or .parquet)"
    )

    p = sub.add_parser("drift", parents=[common], help="drift report of two windows of events")
    p.add_argument(
        "--reference",
        type=_window,
        metavar="A:B",
        help="reference window, dates inclusive (default: the champion's training data)",
    )
    p.add_argument(
        "--current",
        type=_window,
        metavar="C:D",
        help="current window, dates inclusive (default: the last drift.window_days days)",
    )

    p = sub.add_parser("quality", help="days that failed quality checks; accept them")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", parents=[common], help="days left out by failed quality checks")
    q = actions.add_parser(
        "accept", parents=[common], help="take failed days back into events, with a reason"
    )
    q.add_argument("days", nargs="+", type=_day_key, metavar="DAY", help="YYYY-MM-DD")
    q.add_argument("--reason", required=True, help="why the days are fine (recorded)")
    q.add_argument("--by", help="who accepts (default: the current user)")

    sub.add_parser("status", parents=[common], help="champion and previous model, their metrics")
    sub.add_parser("rollback", parents=[common], help="move champion back to previous")
    p = sub.add_parser("ui", parents=[common], help="start the Dagster and MLflow UIs (127.0.0.1)")
    p.add_argument("--dagster-port", type=_positive, default=3000)
    p.add_argument("--mlflow-port", type=_positive, default=5000)
    p.add_argument(
        "--allow-temporary-home",
        action="store_true",
        help="start even though BAT_HOME lies in a temporary folder (/tmp, /var/tmp, /dev/shm, "
        "$TMPDIR) that the system may empty: for tests and throwaway trials only",
    )
    return parser


TUNED_COMMANDS = ("run", "demo", "score")


def _reexec_with_process_env(argv: Sequence[str]) -> None:
    """Restart this console-script process once with process_env.PROCESS_ENV set (the
    commands that build features and train: allocator and numpy settings, read at start-up)."""
    if not argv or argv[0] not in TUNED_COMMANDS or os.environ.get("BAT_NO_REEXEC"):
        return
    if is_set():
        return
    env = {**os.environ, **PROCESS_ENV}
    os.execve(sys.executable, [sys.executable, "-m", "bat_pipeline.cli.main", *argv], env)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the console script, not a test calling main([...])
        _reexec_with_process_env(sys.argv[1:])
    # Dagster marks some parameters used here as beta/preview; that is not news to a CLI user.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)

    if getattr(args, "home", None):  # one BAT_HOME for this command and the code it loads
        os.environ["BAT_HOME"] = str(Path(args.home).resolve())
    try:
        return command(args.command)(args)
    except (UsageError, ConfigError) as exc:
        sys.stderr.write(f"bat-pipeline {args.command}: {redacted(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # a command that failed: one line here, the trace in a log file
        log = _write_trace(args)
        own = type(exc).__module__.startswith("bat_pipeline") or isinstance(exc, OSError)
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not own:
            what = f"unexpected {type(exc).__name__}: {what}"
        sys.stderr.write(f"bat-pipeline {args.command}: {redacted(what)}\n  full log: {log}\n")
        return EXIT_FAILED


def _write_trace(args: argparse.Namespace) -> str:
    """Append the current exception's trace to BAT_HOME/logs/cli-errors.log; its path."""
    import traceback

    from bat_pipeline.home import BatHome

    try:
        logs = BatHome.from_env(getattr(args, "home", None)).logs
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / "cli-errors.log"
        with path.open("a", encoding="utf-8") as handle:
            trace = f"--- bat-pipeline {' '.join(sys.argv[1:])}\n{traceback.format_exc()}\n"
            handle.write(redacted(trace))
        return str(path)
    except OSError:
        return "(not written: BAT_HOME/logs is not writable)"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _day_key(text: str) -> str:
    return _date(text).isoformat()


def _window(text: str) -> tuple[date, date]:
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a window START:END (YYYY-MM-DD:YYYY-MM-DD)"
        )
    start, end = _date(parts[0]), _date(parts[1])
    if end < start:
        raise argparse.ArgumentTypeError(f"window {text!r} ends before it starts")
    return start, end


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


if __name__ == "__main__":
    sys.exit(main())
