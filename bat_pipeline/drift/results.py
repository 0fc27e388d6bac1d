"""What a drift comparison found: one `FeatureDrift` per signal, gathered in a `DriftResult`
(most drifted first, grouped as behaviour / population / data) with a verdict that names the
signals that moved, by how much, and whether they decide a retrain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bat_pipeline.drift.groups import DEFAULT_TRIGGER_GROUPS, GROUP_DESCRIPTIONS, GROUPS, group_of
from bat_pipeline.drift.statistics import NullPSI

DEFAULT_THRESHOLD = 0.1
#: signals named per group in the verdict
VERDICT_SIGNALS = 3


class EmptyWindowError(ValueError):
    """A window to compare holds no events: broken or missing data, not drift."""


@dataclass(frozen=True)
class FeatureDrift:
    """How far one signal moved between the windows.

    `score` is the primary effect size (by `method`, PSI throughout) and `drifted` says whether
    it is above `threshold`: the configured floor, raised to the PSI that sampling noise alone
    reaches at these windows' sizes (`extra`: `noise_psi` expected under no change,
    `noise_limit`, `threshold_floor`). `kind` says what was measured (feature, mix, sequence,
    prediction); `group` what it is about (behaviour, population, data; from the name when not
    given); `extra` holds secondary effect sizes (js, wasserstein) and summaries.
    """

    name: str
    method: str
    score: float
    threshold: float
    drifted: bool
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "feature"
    group: str = ""

    def __post_init__(self) -> None:
        if not self.group:
            object.__setattr__(self, "group", group_of(self.name))

    @property
    def severity(self) -> float:
        """score / threshold: above 1 means drifted; what features are ranked by."""
        return self.score / self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "severity": self.severity,
            "kind": self.kind,
            "extra": self.extra,
        }

    def describe(self) -> str:
        """'name (PSI 0.412 > 0.083)': the score against its threshold."""
        sign = ">" if self.drifted else "<="
        return f"{self.name} ({self.method} {self.score:.3f} {sign} {self.threshold:.3f})"


def scored_feature(
    name: str,
    method: str,
    score: float,
    threshold: float,
    noise: NullPSI | None = None,
    **kw: Any,
) -> FeatureDrift:
    """A signal scored against `threshold` (the floor), raised to `noise.limit` when given."""
    if threshold <= 0:
        raise ValueError(f"a drift threshold must be positive, got {threshold}")
    limit = threshold
    if noise is not None:
        limit = max(threshold, noise.limit)
        extra = kw.setdefault("extra", {})
        extra.update(
            noise_psi=noise.mean,
            noise_limit=noise.limit,
            threshold_floor=threshold,
            n_eff_ref=noise.n_ref,
            n_eff_cur=noise.n_cur,
        )
    return FeatureDrift(name, method, float(score), limit, bool(score > limit), **kw)


@dataclass
class DriftResult:
    """The outcome of comparing a current window with a reference window.

    `features` is sorted most drifted first (by score / threshold); `threshold` is the
    configured floor; `reference` and `current` describe the two windows (dates, sizes);
    `trigger_groups` are the groups whose drift decides a retrain (`drift_detected`), the
    others are reported only; `notes` say what could not be compared and why.
    """

    features: list[FeatureDrift]
    threshold: float = DEFAULT_THRESHOLD
    reference: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)
    trigger_groups: Sequence[str] = DEFAULT_TRIGGER_GROUPS
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.features = sorted(self.features, key=lambda f: (-f.severity, f.name))
        self.trigger_groups = tuple(self.trigger_groups)

    @property
    def drift_detected(self) -> bool:
        """Whether a signal of a trigger group drifted: what requests a retrain."""
        return bool(self.triggering)

    @property
    def signals_moved(self) -> bool:
        """Whether any signal drifted, in any group (reported, triggering or not)."""
        return bool(self.drifted)

    @property
    def drifted(self) -> list[FeatureDrift]:
        """Every drifted signal, whatever its group."""
        return [f for f in self.features if f.drifted]

    @property
    def triggering(self) -> list[FeatureDrift]:
        """The drifted signals of the trigger groups."""
        return [f for f in self.drifted if f.group in self.trigger_groups]

    def in_group(self, group: str) -> list[FeatureDrift]:
        return [f for f in self.features if f.group == group]

    def top_features(self, k: int = 3) -> list[FeatureDrift]:
        """The k features that moved most, drifted or not."""
        return self.features[:k]

    def with_features(self, *more: FeatureDrift) -> DriftResult:
        """This result with more features (e.g. `compare_scores`), re-sorted."""
        return DriftResult(
            [*self.features, *more],
            self.threshold,
            self.reference,
            self.current,
            self.trigger_groups,
            list(self.notes),
        )

    def groups(self) -> dict[str, dict[str, Any]]:
        """Per group (those with signals, in GROUPS order): whether it triggers, whether it
        drifted, its drifted signals and the signals that moved most, with score, threshold and
        noise."""
        out = {}
        for group in GROUPS:
            members = self.in_group(group)
            if not members:
                continue
            out[group] = {
                "triggers_retrain": group in self.trigger_groups,
                "drifted": any(f.drifted for f in members),
                "signals": len(members),
                "what": GROUP_DESCRIPTIONS[group],
                "moved": [_brief(f) for f in members if f.drifted],
                "top": [_brief(f) for f in members[:VERDICT_SIGNALS]],
            }
        return out

    @property
    def verdict(self) -> str:
        """Drifted or not (by the trigger groups), naming per group the signals that moved, by
        how much against their thresholds; moved groups that do not trigger are said so."""
        if not self.features:
            return "Nothing to compare."
        triggers = "/".join(self.trigger_groups) or "none"
        if self.drift_detected:
            n = len(self.triggering)
            head = f"Drift detected in {triggers} ({n} signal{'' if n == 1 else 's'}): "
            parts = [
                _named(group, [f for f in self.triggering if f.group == group])
                for group in GROUPS
                if group in self.trigger_groups
            ]
        else:
            watched = [f for f in self.features if f.group in self.trigger_groups]
            head = (
                f"No drift in {triggers}: all {len(watched)} signals within their thresholds "
                f"(PSI floor {self.threshold:g}, raised to the sampling noise of the windows); "
            )
            parts = ["moved most: " + ", ".join(f.describe() for f in watched[:VERDICT_SIGNALS])]
        text = head + "; ".join(p for p in parts if p) + "."
        reported = [
            _named(group, [f for f in self.drifted if f.group == group])
            for group in GROUPS
            if group not in self.trigger_groups
        ]
        reported = [p for p in reported if p]
        if reported:
            text += " Moved, reported only (not a retrain trigger): " + "; ".join(reported) + "."
        return text

    def to_dict(self) -> dict[str, Any]:
        """What `drift --json` prints: drift_detected (by the trigger groups), features most
        drifted first, plus verdict, windows, trigger groups, the per-group summary and
        notes."""
        return {
            "drift_detected": self.drift_detected,
            "signals_moved": self.signals_moved,
            "threshold": self.threshold,
            "trigger_groups": list(self.trigger_groups),
            "verdict": self.verdict,
            "reference": self.reference,
            "current": self.current,
            "groups": self.groups(),
            "notes": self.notes,
            "features": [f.to_dict() for f in self.features],
        }


def _brief(f: FeatureDrift) -> dict[str, Any]:
    return {
        "name": f.name,
        "score": f.score,
        "threshold": f.threshold,
        "noise_psi": f.extra.get("noise_psi"),
        "drifted": f.drifted,
    }


def _named(group: str, features: list[FeatureDrift]) -> str:
    """'group: a (PSI .. > ..), b (...)' for up to VERDICT_SIGNALS features, '' for none."""
    if not features:
        return ""
    more = len(features) - VERDICT_SIGNALS
    names = ", ".join(f.describe() for f in features[:VERDICT_SIGNALS])
    return f"{group}: {names}" + (f" and {more} more" if more > 0 else "")
