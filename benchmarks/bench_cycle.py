"""Time to model: one retraining cycle of the built-in shop at growing sizes, end to end
through the CLI, so that the growth of the cost with the work is visible.

For each size (customers over `--days` days): `generate` (Parquet), `ingest`, `run` and
`score` in a fresh BAT_HOME, each as its own process. Printed per size: events, `run`
seconds and the seconds of its slowest steps, the champion's test AUC, training epochs and
samples/s, peak RSS of `run` (and of `ingest`), and `score` throughput in customers/s.

    .venv/bin/python benchmarks/bench_cycle.py [--users 6000 20000 100000] [--days 120]
        [--keep DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], env: dict[str, str]) -> tuple[dict, float, float]:
    """Run one CLI command with --json: (its JSON, wall seconds, peak RSS in GB)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([*argv, "--json"], env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        sys.stderr.write(stderr[-3000:])
        raise SystemExit(f"{' '.join(argv[1:3])} failed with exit {child.returncode}")
    return json.loads(stdout.strip().splitlines()[-1]), seconds, usage.ru_maxrss / 1024**2


def one_size(cli: str, users: int, days: int, root: Path) -> dict:
    home, landing, scores = root / "home", root / "landing", root / "scores.parquet"
    env = {**os.environ, "BAT_HOME": str(home)}
    generated, generate_s, _ = timed(
        [cli, "generate", "--out", str(landing), "--users", str(users), "--days", str(days),
         "--format", "parquet"], env,
    )  # fmt: skip
    _, ingest_s, ingest_gb = timed([cli, "ingest", str(landing)], env)
    run, run_s, run_gb = timed([cli, "run"], env)
    scored, score_s, _ = timed([cli, "score", "--out", str(scores)], env)
    return {
        "users": users,
        "days": days,
        "events": generated["events"],
        "generate_s": round(generate_s, 1),
        "ingest_s": round(ingest_s, 1),
        "ingest_peak_rss_gb": round(ingest_gb, 2),
        "run_s": round(run_s, 1),
        "run_peak_rss_gb": round(run_gb, 2),
        "step_seconds": run["step_seconds"],
        "status": run["status"],
        "auc": run["metrics"]["auc"],
        "baseline_auc": run["baseline_metrics"].get("auc"),
        "epochs": run["training"]["epochs"],
        "train_samples_per_second": run["training"]["samples_per_second"],
        "score_s": round(score_s, 1),
        "scored_users": scored["users"],
        "score_users_per_second": round(scored["users"] / score_s),
    }


def table(rows: list[dict]) -> str:
    head = (
        "| customers | events | run s | samples | training | evaluation | AUC | epochs "
        "| samples/s | peak RSS run | ingest s | score s | score customers/s |\n"
        + "|---:" * 13
        + "|"
    )
    lines = [head]
    for r in rows:
        steps = r["step_seconds"]
        lines.append(
            f"| {r['users']:,} | {r['events']:,} | {r['run_s']:.0f} "
            f"| {steps.get('training_samples', 0):.0f} | {steps.get('candidate_model', 0):.0f} "
            f"| {steps.get('model_evaluation', 0):.0f} | {r['auc']:.4f} | {r['epochs']} "
            f"| {r['train_samples_per_second']:,} | {r['run_peak_rss_gb']:.1f} GB "
            f"| {r['ingest_s']:.0f} | {r['score_s']:.1f} | {r['score_users_per_second']:,} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[6000, 20000, 100000])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--keep", type=Path, help="keep each size's BAT_HOME under this folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    cli = str(Path(sys.executable).parent / "bat-pipeline")
    rows = []
    for users in args.users:
        with tempfile.TemporaryDirectory() as tmp:
            root = args.keep / f"users{users}" if args.keep else Path(tmp)
            root.mkdir(parents=True, exist_ok=True)
            row = one_size(cli, users, args.days, root)
        rows.append(row)
        steps = ", ".join(f"{k} {v:.0f}" for k, v in row["step_seconds"].items())
        print(f"{users:,} customers: run {row['run_s']:.0f} s ({steps}); AUC {row['auc']:.4f}; "
              f"score {row['scored_users']:,} in {row['score_s']:.1f} s", flush=True)  # fmt: skip
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
