"""The drift sensor's decision at each tick: retrain or not, and the cursor it keeps.

Only drift of the trigger groups (`drift.trigger_groups`, behaviour by default: what customers
do, and the champion's predictions) on healthy data requests a retrain, once per window and
never within the cooldown after the last request. Population drift (who is active: new vs
returning customers, device, channel) and data drift (load outcomes) are reported in the reason
but request nothing unless configured as triggers; failed quality checks block retraining
instead of triggering it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from bat_pipeline.drift.results import DriftResult
from bat_pipeline.drift.windows import Window

#: windows remembered in the drift sensor's cursor (dedup beyond the run key)
MAX_REMEMBERED_WINDOWS = 60


@dataclass(frozen=True)
class DriftObservation:
    """What the drift sensor saw at one tick.

    `window` is the newest `drift.window_days` of events; `result` its drift against the
    champion's reference profile; `failed_partitions` the days of the window that failed a
    quality check (or why the window could not be read); `skip` why nothing could be
    compared at all (no warehouse, no champion, no events, warehouse busy, overlap).
    """

    window: Window | None = None
    result: DriftResult | None = None
    failed_partitions: list[str] = field(default_factory=list)
    skip: str | None = None


@dataclass(frozen=True)
class RetrainDecision:
    """What the drift sensor decided for one window, and why."""

    request: bool
    run_key: str
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def retrain_decision(
    window: Window,
    drift_detected: bool | None,
    verdict: str,
    failed_partitions: list[str],
    last_request_at: datetime | None,
    now: datetime,
    cooldown: timedelta,
    already_requested: bool,
) -> RetrainDecision:
    """Request a retrain only for drift on healthy data, once per window, outside the cooldown."""
    key = f"drift:{window}"
    if failed_partitions:
        return RetrainDecision(
            False, key, f"data-quality checks failed for {', '.join(failed_partitions)}: "
            "broken data blocks retraining (fix and re-ingest those days)",
        )  # fmt: skip
    if not drift_detected:
        return RetrainDecision(False, key, f"no drift in {window}: {verdict}")
    if already_requested:
        return RetrainDecision(False, key, f"a retrain was already requested for {window}")
    if last_request_at is not None and now - last_request_at < cooldown:
        wait = cooldown - (now - last_request_at)
        return RetrainDecision(
            False, key, f"drift in {window} recorded, but within the cooldown "
            f"(last retrain request {last_request_at.isoformat(timespec='minutes')}, {wait} left)",
        )  # fmt: skip
    return RetrainDecision(True, key, f"drift in {window}: {verdict}")


def next_tick(
    state: dict, observation: DriftObservation, cooldown: timedelta, now: datetime
) -> tuple[RetrainDecision, dict]:
    """The decision for one tick and the sensor's new cursor state.

    `state` is the previous cursor: {"requested": [windows], "last_request_at": iso | None,
    "last_checked": window, "last_checked_at": iso, "last_drift_detected": bool (drift in a
    trigger group), "last_groups_moved": [groups with a drifted signal, triggering or not]}.
    """
    new_state = {**state, "last_checked_at": now.isoformat()}
    window = observation.window
    if observation.skip is not None or window is None:
        key = f"drift:{window}" if window is not None else ""
        return RetrainDecision(False, key, observation.skip or "nothing to compare"), new_state
    requested: list[str] = list(state.get("requested", []))
    last_raw = state.get("last_request_at")
    result = observation.result
    decision = retrain_decision(
        window,
        result.drift_detected if result else None,
        result.verdict if result else "",
        observation.failed_partitions,
        datetime.fromisoformat(last_raw) if last_raw else None,
        now,
        cooldown,
        already_requested=str(window) in requested,
    )
    new_state["last_checked"] = str(window)
    if result is not None:
        new_state["last_drift_detected"] = result.drift_detected
        new_state["last_groups_moved"] = sorted({f.group for f in result.drifted})
    if decision.request:
        new_state["requested"] = [*requested, str(window)][-MAX_REMEMBERED_WINDOWS:]
        new_state["last_request_at"] = now.isoformat()
    return decision, new_state
