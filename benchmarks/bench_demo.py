"""End-to-end seconds of `bat-pipeline demo` (what `make demo` runs after the install step),
in a fresh temporary BAT_HOME. Target: under 5 minutes on a 2-core machine.

    .venv/bin/python benchmarks/bench_demo.py [--fast]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fast", action="store_true", help="the small demo the tests use")
    args = parser.parse_args()
    cli = Path(sys.executable).parent / "bat-pipeline"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "BAT_HOME": home}
        started = time.perf_counter()
        out = subprocess.run(
            [str(cli), "demo", "--json", *(["--fast"] if args.fast else [])],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        print(f"demo failed (exit {out.returncode}) after {seconds:.0f} s")
        return 1
    result = json.loads(out.stdout.strip().splitlines()[-1])
    first, drift = result["first_run"], result["drift"]
    print(f"bat-pipeline demo{' --fast' if args.fast else ''}: {seconds:.0f} s end to end")
    print(f"  first model: v{first['model_version']} accuracy {first['metrics']['accuracy']:.4f} "
          f"AUC {first['metrics']['auc']:.4f} (baseline AUC {first['baseline_metrics'].get('auc', float('nan')):.4f}), "
          f"promoted={first['promoted']}")  # fmt: skip
    retrain = drift.get("retrain")
    if retrain:
        print(f"  drift retrain: v{retrain['model_version']} accuracy {retrain['metrics']['accuracy']:.4f} "
              f"AUC {retrain['metrics']['auc']:.4f}, promoted={retrain['promoted']}")  # fmt: skip
    else:
        print(f"  drift: {drift.get('lines')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
