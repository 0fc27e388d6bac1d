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
from datetime import UTC, datetime, timedelta

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
class RequestedRun:
    """A retrain run requested for a drift window, as the run history holds it."""

    run_id: str
    created_at: datetime


@dataclass(frozen=True)
class RequestHistory:
    """The drift retrains requested before, as the run history holds them (window -> run).

    The run history outlives the sensor's cursor, which a reset, a restored older copy or a
    renamed sensor loses: a window it holds counts as requested even when the cursor forgot it,
    and a forgotten request starts the cooldown as a remembered one does.
    """

    runs: dict[str, RequestedRun] = field(default_factory=dict)


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
    recalled_run: str | None = None,
    cooldown_from_history: bool = False,
) -> RetrainDecision:
    """Request a retrain only for drift on healthy data, once per window, outside the cooldown.

    `recalled_run` is the run of the window that only the run history remembered (the cursor
    had lost it); `cooldown_from_history` says the last request time came from there too. The
    reason says so: a reset cursor must not pass unnoticed."""
    key = f"drift:{window}"
    if failed_partitions:
        return RetrainDecision(
            False, key, f"data-quality checks failed for {', '.join(failed_partitions)}: "
            "broken data blocks retraining (fix and re-ingest those days)",
        )  # fmt: skip
    if not drift_detected:
        return RetrainDecision(False, key, f"no drift in {window}: {verdict}")
    if recalled_run is not None:
        return RetrainDecision(
            False, key, f"a retrain was already requested for {window} (run {recalled_run} in "
            "the run history; the sensor's cursor had lost it: reset or older)",
        )  # fmt: skip
    if already_requested:
        return RetrainDecision(False, key, f"a retrain was already requested for {window}")
    if last_request_at is not None and now - last_request_at < cooldown:
        wait = cooldown - (now - last_request_at)
        source = " from the run history" if cooldown_from_history else ""
        return RetrainDecision(
            False, key, f"drift in {window} recorded, but within the cooldown (last retrain "
            f"request{source} {last_request_at.isoformat(timespec='minutes')}, {wait} left)",
        )  # fmt: skip
    return RetrainDecision(True, key, f"drift in {window}: {verdict}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def next_tick(
    state: dict,
    observation: DriftObservation,
    cooldown: timedelta,
    now: datetime,
    history: RequestHistory | None = None,
) -> tuple[RetrainDecision, dict]:
    """The decision for one tick and the sensor's new cursor state.

    `state` is the previous cursor: {"requested": [windows], "last_request_at": iso | None,
    "last_checked": window, "last_checked_at": iso, "last_drift_detected": bool (drift in a
    trigger group), "last_groups_moved": [groups with a drifted signal, triggering or not]}.
    `history` is what the run history remembers of earlier requests: a window it holds counts
    as requested and its newest request starts the cooldown, whatever the cursor says; the new
    cursor learns both back.
    """
    new_state = {**state, "last_checked_at": now.isoformat()}
    window = observation.window
    if observation.skip is not None or window is None:
        key = f"drift:{window}" if window is not None else ""
        return RetrainDecision(False, key, observation.skip or "nothing to compare"), new_state
    history = history or RequestHistory()
    requested: list[str] = list(state.get("requested", []))
    recalled = {w: run for w, run in history.runs.items() if w not in requested}
    last_raw = state.get("last_request_at")
    last_request_at = _aware(datetime.fromisoformat(last_raw)) if last_raw else None
    forgotten_at = max((_aware(run.created_at) for run in recalled.values()), default=None)
    from_history = forgotten_at is not None and (
        last_request_at is None or forgotten_at > last_request_at
    )
    if from_history:
        last_request_at = forgotten_at
    result = observation.result
    decision = retrain_decision(
        window,
        result.drift_detected if result else None,
        result.verdict if result else "",
        observation.failed_partitions,
        last_request_at,
        now,
        cooldown,
        already_requested=str(window) in requested,
        recalled_run=recalled[str(window)].run_id if str(window) in recalled else None,
        cooldown_from_history=from_history,
    )
    if recalled:
        requested = sorted({*requested, *recalled})[-MAX_REMEMBERED_WINDOWS:]
        new_state["requested"] = requested
    if from_history:
        new_state["last_request_at"] = last_request_at.isoformat()
    new_state["last_checked"] = str(window)
    if result is not None:
        new_state["last_drift_detected"] = result.drift_detected
        new_state["last_groups_moved"] = sorted({f.group for f in result.drifted})
    if decision.request:
        new_state["requested"] = [*requested, str(window)][-MAX_REMEMBERED_WINDOWS:]
        new_state["last_request_at"] = now.isoformat()
    return decision, new_state
