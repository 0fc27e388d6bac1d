"""The promotion rules: may a candidate take the `champion` alias from the current champion?

Pure decisions on what the registry holds at the moment of promotion; the registry reads that
state and moves the aliases.
"""

from __future__ import annotations

from dataclasses import dataclass

from bat_pipeline.policy.gates import GateResult

#: the registry aliases: the model that serves, and the one kept for rollback
CHAMPION, PREVIOUS = "champion", "previous"


@dataclass(frozen=True)
class Verdict:
    """Whether the candidate holds `champion` after this attempt, and why."""

    promoted: bool
    reason: str


def settled_without_recheck(
    gates: list[GateResult], champion: str | None, candidate: str, same_weights: bool
) -> Verdict | None:
    """The verdict when no re-check can change it, else None (the candidate may replace the
    champion). `same_weights`: the champion's weights hash equals the candidate's."""
    failed = [g for g in gates if not g.passed]
    if failed:
        return Verdict(False, "gates failed: " + "; ".join(f"{g.name}: {g.reason}" for g in failed))
    if champion == str(candidate):
        return Verdict(True, f"version {candidate} already holds {CHAMPION} (idempotent)")
    if champion is not None and same_weights:
        return Verdict(
            False,
            f"identical to the champion (version {champion} has the same weights): "
            "nothing to promote",
        )
    return None


def needs_recheck(champion: str | None, evaluated_against: str | None) -> bool:
    """The champion moved since the evaluation: the candidate must beat the new one too."""
    return champion is not None and champion != evaluated_against


def after_recheck(champion: str, check: GateResult) -> Verdict | None:
    """A refusal when the candidate does not beat the champion that moved in, else None."""
    if check.passed:
        return None
    return Verdict(
        False,
        f"blessed=false (baseline changed): champion moved to version {champion} "
        f"since evaluation, and {check.reason}",
    )


def promoted(replaced: str | None) -> Verdict:
    """The candidate takes `champion`; the version it replaced (if any) keeps `previous`."""
    return Verdict(
        True,
        "every gate passed"
        + (f"; replaced version {replaced} (now {PREVIOUS})" if replaced else "; first champion"),
    )
