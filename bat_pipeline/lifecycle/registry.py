"""Promotion by MLflow registry alias: `champion` and `previous`, with decision records.

Promotion never trusts a stale view: it takes a lock, re-reads the champion of that moment,
re-checks the candidate against it when it changed since evaluation, moves the alias and reads
it back, so that two concurrent promotions cannot both win. Every attempt, passed or not, leaves a decision record: a JSON
artifact on the candidate's run plus tags.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bat_pipeline.lifecycle.tracking import TrackingStore
from bat_pipeline.policy.gates import GateResult
from bat_pipeline.policy.promotion import (
    CHAMPION,
    PREVIOUS,
    after_recheck,
    needs_recheck,
    promoted,
    settled_without_recheck,
)


class PromotionError(RuntimeError):
    """The alias could not be moved or did not read back as written (no partial promotion)."""


@dataclass(frozen=True)
class ModelRef:
    """A registered model version and what a reviewer wants to know about it."""

    version: str
    run_id: str
    metrics: dict[str, float]
    promoted_at: str | None
    weights_sha256: str | None
    #: the as-of date of its training data and when its training run started (UTC)
    as_of: str | None = None
    trained_at: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Decision:
    """The record of one promotion attempt (or rollback)."""

    action: str  # promote | rollback
    promoted: bool
    reason: str
    candidate_version: str | None
    champion_before: str | None
    champion_after: str | None
    gates: list[dict] = field(default_factory=list)
    recheck: dict | None = None
    data_fingerprint: str | None = None
    dagster_run_id: str | None = None
    mlflow_run_id: str | None = None
    decided_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict:
        return asdict(self)


def model_ref(store: TrackingStore, version: str) -> ModelRef:
    client = store.client()
    mv = store.retry(
        lambda: client.get_model_version(store.registered_model, version), "read a version"
    )
    run = store.retry(lambda: client.get_run(mv.run_id), "read a run")
    metrics = {
        k.removeprefix("test/"): v for k, v in run.data.metrics.items() if k.startswith("test/")
    }
    for key in ("train_loss", "val_loss"):
        if key in run.data.metrics:
            metrics[key] = run.data.metrics[key]
    return ModelRef(
        version=str(mv.version),
        run_id=mv.run_id,
        metrics=metrics,
        promoted_at=mv.tags.get("promoted_at"),
        weights_sha256=mv.tags.get("weights_sha256"),
        as_of=run.data.tags.get("bat.as_of"),
        trained_at=datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(),
    )


def alias_version(store: TrackingStore, alias: str) -> str | None:
    """The version an alias points at, or None (no model registered, or alias unset)."""
    from mlflow.exceptions import MlflowException

    client = store.client()
    try:
        mv = store.retry(
            lambda: client.get_model_version_by_alias(store.registered_model, alias),
            f"read alias {alias}",
        )
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    return str(mv.version)


def get_alias(store: TrackingStore, alias: str) -> ModelRef | None:
    version = alias_version(store, alias)
    return model_ref(store, version) if version is not None else None


@contextlib.contextmanager
def promotion_lock(store: TrackingStore) -> Iterator[None]:
    """An exclusive lock across processes on this machine (a file under BAT_HOME/locks)."""
    folder = Path(store.locks_dir or ".")
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"promotion-{store.registered_model}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _move_alias(store: TrackingStore, alias: str, version: str) -> None:
    client = store.client()
    store.retry(
        lambda: client.set_registered_model_alias(store.registered_model, alias, version),
        f"move alias {alias}",
    )
    back = alias_version(store, alias)
    if back != str(version):
        raise PromotionError(f"alias {alias} reads back as version {back}, expected {version}")


def _swap_champion(store: TrackingStore, current: str | None, candidate: str) -> None:
    """champion -> candidate, then previous -> the old champion; if the second move fails,
    champion is moved back, so a failure leaves both aliases as they were."""
    _move_alias(store, CHAMPION, candidate)
    if current is None:
        return
    moved = False
    try:
        _move_alias(store, PREVIOUS, current)
        moved = True
    finally:
        if not moved:
            _move_alias(store, CHAMPION, current)


def promote(
    store: TrackingStore,
    candidate_version: str,
    gates: list[GateResult],
    evaluated_against: str | None,
    recheck: Callable[[str], GateResult],
    record: dict,
) -> Decision:
    """Move `champion` to the candidate if every gate passed and it still beats the champion
    of the moment (re-checked with `recheck(champion_version)` when that changed since the
    evaluation compared against `evaluated_against`)."""
    decision = Decision(
        action="promote",
        promoted=False,
        reason="",
        candidate_version=candidate_version,
        champion_before=None,
        champion_after=None,
        gates=[g.to_dict() for g in gates],
        **record,
    )
    with promotion_lock(store):
        current = alias_version(store, CHAMPION)
        decision.champion_before = decision.champion_after = current
        identical = (
            all(g.passed for g in gates)
            and current not in (None, str(candidate_version))
            and _same_weights(store, current, candidate_version)
        )
        verdict = settled_without_recheck(gates, current, candidate_version, identical)
        if verdict is None and needs_recheck(current, evaluated_against):
            check = recheck(current)
            decision.recheck = check.to_dict()
            verdict = after_recheck(current, check)
        if verdict is None:
            _swap_champion(store, current, str(candidate_version))
            store.retry(
                lambda: store.client().set_model_version_tag(
                    store.registered_model, candidate_version, "promoted_at",
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
                "stamp the promotion time",
            )  # fmt: skip
            decision.champion_after = str(candidate_version)
            verdict = promoted(current)
        decision.promoted, decision.reason = verdict.promoted, verdict.reason
    write_decision(store, decision)
    return decision


def _same_weights(store: TrackingStore, a: str, b: str) -> bool:
    client = store.client()
    tags = [
        store.retry(
            lambda v=v: client.get_model_version(store.registered_model, v), "read a version"
        ).tags
        for v in (a, b)
    ]
    return bool(tags[0].get("weights_sha256")) and tags[0].get("weights_sha256") == tags[1].get(
        "weights_sha256"
    )


def rollback(store: TrackingStore, record: dict | None = None) -> Decision:
    """Move `champion` back to `previous` (recorded as a decision in its own MLflow run)."""
    with promotion_lock(store):
        current, previous = alias_version(store, CHAMPION), alias_version(store, PREVIOUS)
        decision = Decision(
            action="rollback",
            promoted=False,
            reason="",
            candidate_version=previous,
            champion_before=current,
            champion_after=current,
            **(record or {}),
        )
        if previous is None:
            decision.reason = "no previous champion to roll back to"
        else:
            _move_alias(store, CHAMPION, previous)
            store.retry(
                lambda: store.client().delete_registered_model_alias(
                    store.registered_model, PREVIOUS
                ),
                "clear alias previous",
            )
            if current is not None:
                store.retry(
                    lambda: store.client().set_model_version_tag(
                        store.registered_model, current, "rolled_back_at", decision.decided_at
                    ),
                    "stamp the rollback time",
                )
            decision.promoted = True
            decision.champion_after = previous
            decision.reason = f"rolled back from version {current} to version {previous}"
    write_decision(store, decision)
    return decision


def write_decision(store: TrackingStore, decision: Decision) -> None:
    """Decision JSON + tags on the candidate's run; a rollback gets a run of its own."""
    client = store.client()
    run_id = decision.mlflow_run_id
    if decision.action == "rollback" or run_id is None:
        run = store.retry(
            lambda: client.create_run(
                store.experiment_id(),
                run_name=f"{decision.action} · {decision.champion_before} -> {decision.champion_after}",
                tags={"bat.trigger": "manual", "bat.action": decision.action},
            ),
            "record the decision",
        )
        run_id = run.info.run_id
        store.retry(lambda: client.set_terminated(run_id, "FINISHED"), "close the decision run")
    name = f"decisions/{decision.action}-{decision.decided_at.replace(':', '')}.json"
    store.retry(lambda: client.log_dict(run_id, decision.to_dict(), name), "log the decision")
    tags = {
        "bat.promotion": "promoted" if decision.promoted else "rejected",
        "bat.decision": decision.reason[:4000],
        "bat.champion_before": decision.champion_before or "none",
        "bat.champion_after": decision.champion_after or "none",
    }
    if decision.action == "promote":
        tags["bat.gates"] = "passed" if all(g["passed"] for g in decision.gates) else "failed"
        for gate in decision.gates:
            value = "n/a" if gate["value"] is None else f"{gate['value']:.4f}"
            tags[f"bat.gate.{gate['name']}"] = f"{'pass' if gate['passed'] else 'FAIL'} {value}"
    for key, value in tags.items():
        store.retry(lambda k=key, v=value: client.set_tag(run_id, k, v), "tag the decision")
