"""`bat-pipeline generate`: synthetic daily event files of a simulated shop."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bat_pipeline.cli.common import emit, progress_bar
from bat_pipeline.data.synthetic import DRIFT_KINDS, generate
from bat_pipeline.errors import EXIT_OK, UsageError


def cmd_generate(args: argparse.Namespace) -> int:
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
            progress=progress_bar("generate", sys.stderr.isatty() and not args.json),
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
    emit(
        args,
        payload,
        lambda p: (
            f"wrote {p['files']} daily files ({p['events']:,} events, {p['users']:,} users) to {p['out']}"
        ),
    )
    return EXIT_OK
