"""What a drift comparison found: one `FeatureDrift` per feature, gathered in a `DriftResult`
(most drifted first) with a one-sentence verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_THRESHOLD = 0.2


class EmptyWindowError(ValueError):
    """A window to compare holds no events: broken or missing data, not drift."""


@dataclass(frozen=True)
class FeatureDrift:
    """How far one feature moved between the windows.

    `score` is the primary effect size (by `method`, PSI throughout) and `drifted` says whether
    it is above `threshold`. `kind` groups features for reports (feature, mix, sequence,
    prediction); `extra` holds secondary effect sizes (js, wasserstein) and summaries.
    """

    name: str
    method: str
    score: float
    threshold: float
    drifted: bool
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "feature"

    @property
    def severity(self) -> float:
        """score / threshold: above 1 means drifted; what features are ranked by."""
        return self.score / self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "kind": self.kind,
            "extra": self.extra,
        }


def scored_feature(
    name: str, method: str, score: float, threshold: float, **kw: Any
) -> FeatureDrift:
    if threshold <= 0:
        raise ValueError(f"a drift threshold must be positive, got {threshold}")
    return FeatureDrift(name, method, float(score), threshold, bool(score > threshold), **kw)


@dataclass
class DriftResult:
    """The outcome of comparing a current window with a reference window.

    `features` is sorted most drifted first (by score / threshold); `reference` and `current`
    describe the two windows (dates, sizes).
    """

    features: list[FeatureDrift]
    threshold: float = DEFAULT_THRESHOLD
    reference: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = sorted(self.features, key=lambda f: (-f.severity, f.name))

    @property
    def drift_detected(self) -> bool:
        return any(f.drifted for f in self.features)

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted]

    def top_features(self, k: int = 3) -> list[FeatureDrift]:
        """The k features that moved most, drifted or not."""
        return self.features[:k]

    def with_features(self, *more: FeatureDrift) -> DriftResult:
        """This result with more features (e.g. `compare_scores`), re-sorted."""
        return DriftResult([*self.features, *more], self.threshold, self.reference, self.current)

    @property
    def verdict(self) -> str:
        """One sentence: drifted or not, naming the features that moved most."""
        if not self.features:
            return "Nothing to compare."
        if self.drift_detected:
            moved = self.drifted[:3]
            head = (
                f"Drift detected in {len(self.drifted)} of {len(self.features)} features "
                f"(PSI above {self.threshold:g}); moved most: "
            )
        else:
            moved = self.features[:3]
            head = (
                f"No drift: all {len(self.features)} features within PSI {self.threshold:g}; "
                "moved most: "
            )
        return head + ", ".join(f"{f.name} ({f.method} {f.score:.3f})" for f in moved) + "."

    def to_dict(self) -> dict[str, Any]:
        """What `drift --json` prints (drift_detected, features most drifted first) plus verdict and windows."""
        return {
            "drift_detected": self.drift_detected,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "reference": self.reference,
            "current": self.current,
            "features": [f.to_dict() for f in self.features],
        }
