"""`bat-pipeline score`: the champion's scores for every known user, to a CSV or Parquet file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bat_pipeline.cli.common import config_of, emit, home_of, store_of
from bat_pipeline.errors import EXIT_FAILED, EXIT_OK, UsageError
from bat_pipeline.lifecycle.scoring import NoChampionError, score_to_file


def cmd_score(args: argparse.Namespace) -> int:
    home = home_of(args)
    config_of(args)
    try:
        summary, path = score_to_file(
            home.warehouse,
            store_of(args),
            args.as_of.isoformat() if args.as_of else None,
            Path(args.out),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except (NoChampionError, FileNotFoundError) as exc:
        sys.stderr.write(f"bat-pipeline score: {exc}\n")
        return EXIT_FAILED
    payload = {**summary.__dict__, "out": str(path)}
    if summary.fallback:
        sys.stderr.write(f"WARNING: {summary.fallback}\n")
    emit(
        args,
        payload,
        lambda p: (
            f"scored {p['users']:,} users ({p['dormant_users']:,} dormant) with version "
            f"{p['model_version']} as of {p['cutoff']}: {p['out']}"
        ),
    )
    return EXIT_OK
