"""Which process owns an MLflow run, and closing the runs whose process died.

A run killed hard (SIGKILL, OOM, a lost machine) never marks itself finished: MLflow shows it
RUNNING for good. Every BAT run is tagged with the host and process id that started it, and
the next training on the same host marks those whose process is gone as KILLED.
"""

from __future__ import annotations

import os
import socket

from bat_pipeline.lifecycle.tracking import TrackingStore

PID_TAG, HOST_TAG = "bat.pid", "bat.host"
REAPED_TAG = "bat.reaped"


def owner_tags() -> dict[str, str]:
    """The tags naming this process as a run's owner."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_alive(pid: int) -> bool:
    """True while process `pid` exists on this host (another user's process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_dead_runs(store: TrackingStore) -> list[str]:
    """Mark KILLED every RUNNING run of the experiment started on this host by a process that
    no longer exists; the ids of the runs closed. Runs of other hosts are left alone."""
    client = store.client()
    host = socket.gethostname()
    running = store.retry(
        lambda: client.search_runs(
            [store.experiment_id()], filter_string="attributes.status = 'RUNNING'"
        ),
        "find running runs",
    )
    closed = []
    for run in running:
        tags = run.data.tags
        if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
            continue
        if process_alive(int(tags[PID_TAG])):
            continue
        run_id = run.info.run_id
        why = f"process {tags[PID_TAG]} on {host} was gone; closed by the next start"
        store.retry(lambda r=run_id, w=why: client.set_tag(r, REAPED_TAG, w), "tag a dead run")
        store.retry(lambda r=run_id: client.set_terminated(r, status="KILLED"), "close a dead run")
        closed.append(run_id)
    return closed
