"""`bat-pipeline`: the command line (DESIGN.md section 5), a thin `main(argv) -> int`.

Heavy libraries (Dagster, MLflow, torch, GX) are imported inside the commands that need them,
so `--help` answers at once. `--json` prints one JSON object on stdout; logs go to stderr.
Exit codes: 0 success, 1 the command ran and reports a failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """Bad arguments or config: exit code 2."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


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


def _emit(args: argparse.Namespace, payload: dict, human: Callable[[dict], str]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        sys.stdout.write(human(payload) + "\n")


def _home(args: argparse.Namespace):
    from bat_pipeline.home import BatHome

    return BatHome.from_env(args.home)


def _config(args: argparse.Namespace):
    from bat_pipeline.config import load_config

    return load_config(args.config, _home(args).root)


def _progress(label: str, enabled: bool) -> Callable[[int, int], None] | None:
    if not enabled:
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


# ---------------------------------------------------------------------------------- commands


def cmd_generate(args: argparse.Namespace) -> int:
    from bat_pipeline.synthetic import DRIFT_KINDS, generate

    if (args.drift is None) != (args.drift_start is None):
        raise UsageError(
            "--drift and --drift-start go together (e.g. --drift mobile_shift --drift-start 2026-04-01)"
        )
    if args.drift is not None and args.drift not in DRIFT_KINDS:
        raise UsageError(f"--drift must be one of {', '.join(DRIFT_KINDS)}")
    try:
        summary = generate(
            Path(args.out),
            users=args.users,
            days=args.days,
            seed=args.seed,
            start=args.start,
            drift=args.drift,
            drift_start=args.drift_start,
            fmt=args.format,
            progress=_progress("generate", sys.stderr.isatty() and not args.json),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    payload = {
        "out": str(summary.out),
        "files": len(summary.files),
        "events": summary.events,
        "users": summary.users,
        "days": summary.days,
        "start": summary.start.isoformat(),
        "drift": summary.drift,
        "drift_start": summary.drift_start.isoformat() if summary.drift_start else None,
    }
    _emit(
        args,
        payload,
        lambda p: (
            f"wrote {p['files']} daily files ({p['events']:,} events, {p['users']:,} users) to {p['out']}"
        ),
    )
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from bat_pipeline.ingest_command import ingest_paths

    home, cfg = _home(args), _config(args)
    paths = [Path(p) for p in args.paths]
    report = ingest_paths(
        home, cfg, paths, progress=_progress("ingest", sys.stderr.isatty() and not args.json)
    )
    _emit(args, report, _ingest_text)
    return EXIT_OK if not report["errors"] and not report["quality_failed"] else EXIT_FAILED


def _ingest_text(p: dict) -> str:
    lines = [
        f"read {p['rows_read']:,} rows: {p['rows_loaded']:,} loaded, {p['rows_quarantined']:,} quarantined"
        f" ({p['files_loaded']} files loaded, {p['files_unchanged']} unchanged)"
    ]
    lines += [f"  quarantined {n:,} × {reason}" for reason, n in p["quarantine_reasons"].items()]
    for key, failed in p["quality"].items():
        lines.append(f"quality checks FAILED for partition {key}: {', '.join(failed)}")
    lines += [f"error: {e}" for e in p["errors"]]
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from bat_pipeline.run_command import run_training

    home, cfg = _home(args), _config(args)
    payload = run_training(
        home, cfg, args.config, args.as_of.isoformat() if args.as_of else None, trigger=args.trigger
    )
    _emit(args, payload, _run_text)
    return EXIT_OK if payload["status"] in ("promoted", "not_promoted") else EXIT_FAILED


def _run_text(p: dict) -> str:
    from bat_pipeline.run_command import describe_run

    return describe_run(p)


def cmd_demo(args: argparse.Namespace) -> int:
    from bat_pipeline.demo import run_demo

    return run_demo(_home(args), fast=args.fast, json_out=args.json)


def _store(args: argparse.Namespace):
    from bat_pipeline.orchestrate import prepare_dagster_home
    from bat_pipeline.resources import MlflowResource

    prepare_dagster_home(_home(args))
    return MlflowResource().store()


def cmd_score(args: argparse.Namespace) -> int:
    from bat_pipeline.scoring_command import NoChampionError, score_to_file

    home = _home(args)
    _config(args)
    try:
        summary, path = score_to_file(
            home.warehouse,
            _store(args),
            args.as_of.isoformat() if args.as_of else None,
            Path(args.out),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except (NoChampionError, FileNotFoundError) as exc:
        sys.stderr.write(f"bat-pipeline score: {exc}\n")
        return EXIT_FAILED
    payload = {**summary.__dict__, "out": str(path)}
    _emit(
        args,
        payload,
        lambda p: (
            f"scored {p['users']:,} users ({p['dormant_users']:,} dormant) with version "
            f"{p['model_version']} as of {p['cutoff']}: {p['out']}"
        ),
    )
    return EXIT_OK


def _model_text(label: str, ref: dict | None) -> str:
    if ref is None:
        return f"{label}: none"
    m = ref["metrics"]
    auc, acc = m.get("auc"), m.get("accuracy")
    return (
        f"{label}: version {ref['version']} (promoted {ref.get('promoted_at') or 'n/a'}), "
        f"AUC {auc if auc is None else round(auc, 4)}, accuracy {acc if acc is None else round(acc, 4)}"
    )


def cmd_status(args: argparse.Namespace) -> int:
    from bat_pipeline.registry import CHAMPION, PREVIOUS, get_alias

    _config(args)
    store = _store(args)
    payload = {}
    for alias in (CHAMPION, PREVIOUS):
        ref = get_alias(store, alias)
        payload[alias] = (
            {
                "version": ref.version,
                "metrics": ref.metrics,
                "promoted_at": ref.promoted_at,
                "run_id": ref.run_id,
            }
            if ref
            else None
        )
    payload["registered_model"] = store.registered_model
    payload["model_url"] = store.model_url()
    _emit(
        args,
        payload,
        lambda p: "\n".join(
            [
                _model_text(CHAMPION, p[CHAMPION]),
                _model_text(PREVIOUS, p[PREVIOUS]),
                f"registry: {p['model_url']}",
            ]
        ),
    )
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from bat_pipeline.registry import rollback

    _config(args)
    decision = rollback(_store(args))
    _emit(args, decision.to_dict(), lambda p: p["reason"])
    return EXIT_OK if decision.promoted else EXIT_FAILED


def cmd_drift(args: argparse.Namespace) -> int:
    from bat_pipeline.drift_command import DriftError, run_drift_report
    from bat_pipeline.monitoring import Window

    home, cfg = _home(args), _config(args)
    store = _store(args)
    try:
        report = run_drift_report(
            home.warehouse,
            store,
            home,
            cfg,
            Window(*args.reference) if args.reference else None,
            Window(*args.current) if args.current else None,
        )
    except (DriftError, FileNotFoundError) as exc:
        sys.stderr.write(f"bat-pipeline drift: {exc}\n")
        return EXIT_FAILED
    _emit(args, report, _drift_text)
    return EXIT_OK


def _drift_text(p: dict) -> str:
    lines = [
        f"reference {p['reference_window']} vs current {p['current_window']}: {p['verdict']}",
        f"{'feature':<32} {'method':<6} {'score':>7} {'threshold':>9}  drifted",
    ]
    lines += [
        f"{f['name']:<32} {f['method']:<6} {f['score']:>7.3f} {f['threshold']:>9.2f}  {'YES' if f['drifted'] else 'no'}"
        for f in p["features"][:12]
    ]
    lines.append(f"report: {p['report_html']}")
    lines.append(f"MLflow: {p['mlflow_run_url']}")
    return "\n".join(lines)


def cmd_ui(args: argparse.Namespace) -> int:
    from bat_pipeline.ui import serve

    _config(args)
    return serve(_home(args), args.dagster_port, args.mlflow_port)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "ui": cmd_ui,
    "drift": cmd_drift,
    "generate": cmd_generate,
    "ingest": cmd_ingest,
    "run": cmd_run,
    "score": cmd_score,
    "status": cmd_status,
    "rollback": cmd_rollback,
    "demo": cmd_demo,
}


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

    sub.add_parser("status", parents=[common], help="champion and previous model, their metrics")
    sub.add_parser("rollback", parents=[common], help="move champion back to previous")
    p = sub.add_parser("ui", parents=[common], help="start the Dagster and MLflow UIs (127.0.0.1)")
    p.add_argument("--dagster-port", type=_positive, default=3000)
    p.add_argument("--mlflow-port", type=_positive, default=5000)
    return parser


#: commands that build the dense tensors or train
TUNED_COMMANDS = ("run", "demo", "score")


def _reexec_with_process_env(argv: Sequence[str]) -> None:
    """Restart this console-script process once with process_env.PROCESS_ENV set (the
    commands that build features and train: allocator and numpy settings, read at start-up)."""
    import os

    from bat_pipeline.process_env import PROCESS_ENV, is_set

    if not argv or argv[0] not in TUNED_COMMANDS or os.environ.get("BAT_NO_REEXEC"):
        return
    if is_set():
        return
    env = {**os.environ, **PROCESS_ENV}
    os.execve(sys.executable, [sys.executable, "-m", "bat_pipeline.cli", *argv], env)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the console script, not a test calling main([...])
        _reexec_with_process_env(sys.argv[1:])
    import warnings

    # Dagster marks some parameters used here as beta/preview; that is not news to a CLI user.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    from bat_pipeline.config import ConfigError

    try:
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError) as exc:
        sys.stderr.write(f"bat-pipeline {args.command}: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
