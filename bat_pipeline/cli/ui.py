"""`bat-pipeline ui`: the Dagster webserver + daemon and the MLflow UI on the same BAT_HOME.

All three bind to 127.0.0.1 only; expose them only behind an authenticating
proxy. They stop together on Ctrl-C (or SIGTERM), and if one of them dies the others are
stopped too, so nothing is left running in the background.

They refuse to start when BAT_HOME (so DAGSTER_HOME = BAT_HOME/dagster) lies in a temporary
folder, whose content the system may delete with every run, schedule state and sensor cursor,
unless --allow-temporary-home says that this is a test or a throwaway trial.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bat_pipeline.cli.common import config_of, home_of
from bat_pipeline.cli.dagster_home import bat_instance, temporary_root
from bat_pipeline.errors import UsageError
from bat_pipeline.home import PROJECT_ROOT, BatHome
from bat_pipeline.process_env import PROCESS_ENV

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def commands(home: BatHome, dagster_port: int, mlflow_port: int) -> dict[str, list[str]]:
    """The three server command lines (all on loopback)."""
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    return {
        "dagster-webserver": [
            _bin("dagster-webserver"), "-w", workspace, "-h", LOOPBACK, "-p", str(dagster_port),
        ],
        "dagster-daemon": [_bin("dagster-daemon"), "run", "-w", workspace],
        "mlflow": [
            _bin("mlflow"), "server",
            "--backend-store-uri", home.mlflow_uri,
            "--default-artifact-root", home.mlflow_artifacts.resolve().as_uri(),
            "--host", LOOPBACK, "--port", str(mlflow_port),
            "--allowed-hosts", f"{LOOPBACK}:{mlflow_port},localhost:{mlflow_port}",
            "--workers", "1",
        ],
    }  # fmt: skip


@dataclass
class Servers:
    """Running UI processes and their URLs."""

    dagster_url: str
    mlflow_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def dead(self) -> list[str]:
        return [name for name, proc in self.processes.items() if proc.poll() is not None]


def check_persistent_home(home: BatHome, allow_temporary_home: bool = False) -> None:
    """Refuse a Dagster home in a temporary folder: the system may empty it, and with it every
    run, schedule state and sensor cursor (the sensors would then start over from nothing).
    `allow_temporary_home` is for tests and throwaway trials."""
    root = temporary_root(home.dagster_home)
    if root is None or allow_temporary_home:
        return
    raise UsageError(
        f"refusing to start: Dagster's state (runs, schedules, sensor cursors) would live in "
        f"{home.dagster_home}, inside the temporary folder {root}, which the system may empty; "
        "set BAT_HOME (or --home) to a persistent folder, or pass --allow-temporary-home for a "
        "test or a throwaway trial"
    )


def start(
    home: BatHome,
    dagster_port: int = 3000,
    mlflow_port: int = 5000,
    log_dir: Path | None = None,
    allow_temporary_home: bool = False,
) -> Servers:
    """Start the three servers (each in its own process group) with state under BAT_HOME;
    refuses a BAT_HOME in a temporary folder unless `allow_temporary_home`."""
    check_persistent_home(home, allow_temporary_home)
    bat_instance(home).dispose()  # its tables and pools made before any server starts
    servers = Servers(
        dagster_url=f"http://{LOOPBACK}:{dagster_port}",
        mlflow_url=f"http://{LOOPBACK}:{mlflow_port}",
    )
    env = {
        **os.environ,
        **PROCESS_ENV,  # runs launched from the UI, schedules and sensors train here too
        "BAT_HOME": str(home.root),
        "DAGSTER_HOME": str(home.dagster_home),
        "BAT_MLFLOW_UI_URL": servers.mlflow_url,
        "BAT_DAGSTER_UI_URL": servers.dagster_url,
    }
    log_dir = log_dir or home.logs
    log_dir.mkdir(parents=True, exist_ok=True)
    for name, argv in commands(home, dagster_port, mlflow_port).items():
        log = (log_dir / f"{name}.log").open("ab")
        servers.processes[name] = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return servers


def wait_until_up(servers: Servers, timeout: float = 180.0) -> None:
    """Block until both UIs answer HTTP, or raise naming the one that did not."""
    deadline = time.monotonic() + timeout
    pending = {
        "Dagster": servers.dagster_url + "/server_info",
        "MLflow": servers.mlflow_url + "/health",
    }
    while pending and time.monotonic() < deadline:
        dead = servers.dead()
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited while starting; see BAT_HOME/logs/")
        for name, url in list(pending.items()):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        del pending[name]
            except OSError:
                pass
        time.sleep(0.5)
    if pending:
        raise RuntimeError(f"{', '.join(pending)} did not answer within {timeout:.0f} s")


def serve(
    home: BatHome, dagster_port: int, mlflow_port: int, allow_temporary_home: bool = False
) -> int:
    """Run until Ctrl-C; returns 0 on a clean stop, 1 if a server died."""
    servers = start(home, dagster_port, mlflow_port, allow_temporary_home=allow_temporary_home)
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        wait_until_up(servers)
        sys.stdout.write(
            f"Dagster UI: {servers.dagster_url}\nMLflow UI:  {servers.mlflow_url}\n"
            f"(state in {home.root}; logs in {home.root / 'logs'}; Ctrl-C stops both)\n"
        )
        sys.stdout.flush()
        while not stop["now"]:
            dead = servers.dead()
            if dead:
                sys.stderr.write(f"{', '.join(dead)} stopped; stopping the others\n")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        sys.stderr.write(f"bat-pipeline ui: {exc}\n")
        return 1
    finally:
        servers.stop()
        sys.stderr.write("stopped Dagster and MLflow\n")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    home = home_of(args)
    allow = getattr(args, "allow_temporary_home", False)
    check_persistent_home(home, allow)  # before anything is written or started
    config_of(args)
    return serve(home, args.dagster_port, args.mlflow_port, allow_temporary_home=allow)
