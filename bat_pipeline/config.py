"""The one typed configuration of BAT (a YAML file, validated with clear errors).

`BatConfig` is the whole file; each section is a frozen pydantic model whose fields carry a
description, so the same text shows in `--help`-style errors and in the Dagster launchpad.
A key set in a file overrides only that key; an unknown key is an error (CLI exit code 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bat_pipeline.contract import CANONICAL_COLUMNS, STATIC_COLUMNS
from bat_pipeline.errors import ConfigError

#: `task.lookback_days: auto` feeds the model at most this many buckets (days or weeks); the
#: lifetime context covers the history before them
AUTO_LOOKBACK_BUCKETS = 60


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    event_types: list[str] | None = Field(
        default=None,
        description="Event-type vocabulary; null learns it from the first load and keeps it.",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Source mapping: canonical column name (user_id, event_time, event_type, "
        "session_id, value, device, channel) -> column name in the files.",
    )
    timestamp_format: str | None = Field(
        default=None,
        description="strptime format (e.g. '%d/%m/%Y %H:%M') or epoch unit 's' / 'ms'; "
        "null = ISO 8601.",
    )
    event_map: dict[str, str] = Field(
        default_factory=dict,
        description="Renames event names of the source to canonical ones (source -> canonical).",
    )
    future_skew_minutes: int = Field(
        default=5, ge=0, description="Events later than now + this skew are quarantined."
    )
    max_reject_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="A file is refused whole when its share of malformed lines, of rows "
        "whose time or value does not parse, or of rows later than now + future_skew_minutes "
        "(a wrong clock upstream) exceeds this.",
    )
    max_duplicate_share: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Quality check: highest share of duplicates."
    )
    max_unknown_event_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Quality check: highest share of a partition's rows read that may be "
        "quarantined as unknown_event_type; above it the partition fails (kept out of events, "
        "so out of training, and retraining is blocked) until it is fixed or accepted.",
    )
    min_free_disk_mb: int = Field(
        default=100,
        ge=0,
        description="Ingest refuses to start when the warehouse's disk has less free space "
        "than this plus twice the size of the files to load.",
    )
    volume_tolerance: float = Field(
        default=0.5,
        ge=0.0,
        description="Quality check: a day's row count may differ from the trailing "
        "median by this fraction (or by its noise, see volume_noise_sigmas).",
    )
    volume_trailing_days: int = Field(
        default=7, ge=1, description="Quality check: days of history for the volume check."
    )
    volume_noise_sigmas: float = Field(
        default=4.0,
        ge=0.0,
        description="Quality check: a day's row count may also differ from the trailing "
        "median by this many standard deviations of the recent days' counts (at least "
        "Poisson's square root of the median), so a small shop's noisy days pass.",
    )

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        known = [*CANONICAL_COLUMNS, *STATIC_COLUMNS]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown canonical column(s) {unknown}; map one of {known}")
        return value


class TaskConfig(_Section):
    target_event: str = Field(
        default="purchase", description="Event type to predict, or 'any' (any activity)."
    )
    churn: bool = Field(
        default=False,
        description="Invert the label: 1 = the user does NOT do target_event (churn).",
    )
    horizon_days: int = Field(
        default=14, ge=1, description="Label window: does the target happen in [t, t+horizon)?"
    )
    lookback_days: int | Literal["auto"] = Field(
        default="auto",
        description="History before the cutoff t fed to the model as a sequence, in days; "
        f"'auto' = as much as the data holds, up to {AUTO_LOOKBACK_BUCKETS} buckets (days or "
        "weeks). A customer with less history is left-padded, and the padding is marked.",
    )
    bucket: Literal["day", "week"] = Field(
        default="day", description="Time bucket of the activity sequence: day or week."
    )
    cutoff_every_days: int = Field(
        default=7, ge=1, description="Spacing of the sample cutoffs t, in days."
    )
    max_samples: int = Field(
        default=400_000,
        ge=1_000,
        description="Most (customer, cutoff) samples one training builds; above it a seeded "
        "random share of every cutoff is kept, so that time and memory stop growing with the "
        "number of customers (scoring still scores everyone).",
    )

    @property
    def bucket_days(self) -> int:
        return 7 if self.bucket == "week" else 1

    @model_validator(mode="after")
    def _fits_the_bucket(self) -> TaskConfig:
        # samples are cut at bucket starts and labelled over whole buckets: with weeks, every
        # span in days is a whole number of weeks
        if self.bucket != "week":
            return self
        spans = {"horizon_days": self.horizon_days, "cutoff_every_days": self.cutoff_every_days}
        if self.lookback_days != "auto":
            spans["lookback_days"] = int(self.lookback_days)
        for key, days in spans.items():
            if days % 7:
                near = sorted({7 * max(1, days // 7), 7 * (days // 7 + 1)})
                raise ValueError(
                    f"{key}: with bucket: week it must be a multiple of 7 days, got {days}; "
                    f"use {' or '.join(map(str, near))}, or bucket: day"
                )
        return self

    @field_validator("lookback_days", mode="before")
    @classmethod
    def _lookback(cls, value: object) -> object:
        # text from a launchpad or an environment variable: "60" means 60 days
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if value != "auto" and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            raise ValueError(
                f"lookback_days must be 'auto' or a number of days >= 1, not {value!r}"
            )
        return value


class ModelConfig(_Section):
    hidden_size: int = Field(default=32, ge=1, description="LSTM hidden units per layer.")
    num_layers: int = Field(default=1, ge=1, description="Stacked LSTM layers.")
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0, description="Dropout between layers.")
    learning_rate: float = Field(default=1e-3, gt=0.0, description="Adam learning rate.")
    lr_decay: float = Field(
        default=0.95, gt=0.0, le=1.0, description="Learning-rate multiplier per epoch."
    )
    batch_size: int = Field(default=128, ge=1, description="Sequences per training batch.")
    max_epochs: int = Field(default=30, ge=1, description="Upper bound on training epochs.")
    patience: int = Field(
        default=3, ge=1, description="Early stopping: epochs without val/loss improvement."
    )
    seed: int = Field(default=42, description="Seed for data order and weight init.")
    use_static: bool = Field(
        default=True,
        description="Join the customer's context to the sequence: first device and channel, "
        "and the lifetime history (recency, tenure, counts, value, gaps) at the cutoff.",
    )
    accelerator: Literal["auto", "cpu", "gpu"] = Field(
        default="auto", description="auto = a GPU when one is present, else CPU."
    )
    precision: Literal["32", "bf16", "auto"] = Field(
        default="32",
        description="Arithmetic of training: 32 = float32; bf16 = bfloat16 mixed precision "
        "(weights and optimiser stay float32); auto = bf16 where the hardware computes it "
        "natively (a CPU with AVX-512 BF16 or AMX, a GPU that supports it), else 32.",
    )


class GatesConfig(_Section):
    min_accuracy: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Lowest test accuracy to promote (e.g. 0.80); 0 = judged only against the "
        "majority class (must_beat_majority).",
    )
    must_beat_majority: bool = Field(
        default=True,
        description="Test accuracy must exceed the share of the window's majority class (what "
        "always predicting that class scores).",
    )
    min_balanced_accuracy: float = Field(
        default=0.55,
        ge=0.0,
        le=1.0,
        description="Lowest test balanced accuracy (mean recall of both classes; 0.5 = chance), "
        "at the threshold that maximises it on validation.",
    )
    min_auc: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Lowest test ROC AUC to promote (0.5 = chance)."
    )
    max_loss_gap: float = Field(
        default=0.1, description="Highest val_loss - train_loss (overfitting) to promote."
    )
    must_beat_baseline: bool = Field(
        default=True,
        description="The LSTM's AUC must exceed the stronger baseline's AUC (gradient-boosted "
        "trees or logistic regression on the lifetime features).",
    )
    max_regression: float = Field(
        default=0.01,
        ge=0.0,
        description="Largest AUC drop versus the current champion (same test window).",
    )


class DriftConfig(_Section):
    threshold: float = Field(
        default=0.1,
        gt=0.0,
        description="PSI above which a signal counts as drifted (a material shift). A signal's "
        "own threshold is raised above it where the two windows are small enough for sampling "
        "noise alone to reach it (the PSI 99.9 % of calm windows of those sizes stay below), "
        "so a small shop's calm week is not flagged.",
    )
    trigger_groups: tuple[Literal["behaviour", "population", "data"], ...] = Field(
        default=("behaviour",),
        description="Signal groups whose drift requests a retrain; the others are reported "
        "only. behaviour: event mix, transitions, session shape, conversion, value, the "
        "champion's prediction drift. population: new vs returning customers, device and "
        "channel mix (a log whose customers were acquired early ages without any change). "
        "data: rows loaded vs quarantined per reason (a new event type lands here).",
    )
    window_days: int = Field(default=7, ge=1, description="Length of the current drift window.")
    cooldown_hours: float = Field(
        default=24.0, ge=0.0, description="Least time between two drift-triggered retrains."
    )

    @field_validator("trigger_groups")
    @classmethod
    def _distinct_groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"trigger_groups lists a group twice: {list(value)}")
        return value


class BatConfig(_Section):
    data: DataConfig = Field(default_factory=DataConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)

    def merged(self, overrides: dict[str, Any]) -> BatConfig:
        """This config with `overrides` ({section: {key: value}}) applied key by key."""
        return parse_config(_deep_merge(self.model_dump(), overrides), "overrides")


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_config(raw: Any, source: str) -> BatConfig:
    """Validate a parsed YAML document; errors name the file, the key path and the fix."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {raw!r}")
    try:
        return BatConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                section = err["loc"][0] if len(err["loc"]) > 1 else None
                allowed = (
                    sorted(BatConfig.model_fields[section].annotation.model_fields)
                    if section in BatConfig.model_fields
                    else sorted(BatConfig.model_fields)
                )
                lines.append(f"  {where}: unknown key (allowed here: {', '.join(allowed)})")
            elif err["type"] == "value_error":  # our own rule: its message says it all
                message = err["msg"].removeprefix("Value error, ")
                key, sep, rest = message.partition(": ")
                if sep and key.isidentifier():  # a cross-field rule names its key first
                    where, message = f"{where}.{key}", rest
                lines.append(f"  {where}: {message}")
            else:
                lines.append(f"  {where}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(lines)) from None


def load_config(path: Path | str | None, home: Path | None = None) -> BatConfig:
    """Read the config file `path`, else `home/bat.yaml` if present, else the defaults."""
    import yaml

    if path is None and home is not None and (home / "bat.yaml").is_file():
        path = home / "bat.yaml"
    if path is None:
        return BatConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist (pass an existing YAML file)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(raw, str(path))
