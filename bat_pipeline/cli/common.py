"""What every command shares: `--json` output, BAT_HOME, config and MLflow store from the
common options, progress on stderr (a bar on a terminal, lines otherwise)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from bat_pipeline.cli.dagster_home import prepare_dagster_home
from bat_pipeline.config import BatConfig, load_config
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.tracking import TrackingStore


def emit(args: argparse.Namespace, payload: dict, human: Callable[[dict], str]) -> None:
    """One JSON object on stdout with `--json`, else the human text."""
    if args.json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        sys.stdout.write(human(payload) + "\n")


def home_of(args: argparse.Namespace) -> BatHome:
    return BatHome.from_env(args.home)


def config_of(args: argparse.Namespace) -> BatConfig:
    return load_config(args.config, home_of(args).root)


def store_of(args: argparse.Namespace) -> TrackingStore:
    """The MLflow store of the command's BAT_HOME (its Dagster home prepared too)."""
    home = home_of(args)
    prepare_dagster_home(home)
    return TrackingStore.for_home(home)


def progress_bar(label: str, bar: bool) -> Callable[[int, int], None]:
    """`progress(done, total)` on stderr: with `bar` (a terminal, no --json) one bar redrawn in
    place; otherwise one line at each tenth of the work, so that a log file shows it moving."""
    shown = [-1]

    def draw(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def line(done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if tenth > shown[0]:
            shown[0] = tenth
            sys.stderr.write(f"{label}: {done}/{total}\n")
            sys.stderr.flush()

    return draw if bar else line


def say(text: str) -> None:
    """One progress line on stderr (stdout stays for the result)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
