"""Dagster run config typed once: `dg.Config` classes mirrored from the pydantic sections.

The launchpad then shows every knob of `bat_pipeline.config` with the same description and
default, and the CLI builds run config from the YAML file with `run_config_for`.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import BaseModel, Field, ValidationError, create_model

from bat_pipeline.config import BatConfig, GatesConfig, ModelConfig, TaskConfig

#: fields whose pydantic type Dagster's config system cannot express (a number or "auto"):
#: the launchpad takes any value there, and the pydantic section validates it
_UNTYPED = {"lookback_days"}


def _mirror(section: type[BaseModel], name: str, exclude: tuple[str, ...] = ()) -> type[dg.Config]:
    fields: dict[str, Any] = {}
    for key, info in section.model_fields.items():
        if key in exclude:
            continue
        default = info.default_factory() if info.default_factory else info.default
        annotation = Any if key in _UNTYPED else info.annotation
        fields[key] = (annotation, Field(default=default, description=info.description))
    return create_model(name, __base__=dg.Config, __doc__=section.__doc__, **fields)


_AS_OF = (
    str | None,
    Field(default=None, description="As-of date YYYY-MM-DD; null = the day after the last event."),
)

FeaturesRunConfig = create_model(
    "FeaturesRunConfig",
    __base__=dg.Config,
    bucket=(
        TaskConfig.model_fields["bucket"].annotation,
        Field(default="day", description=TaskConfig.model_fields["bucket"].description),
    ),
    lookback_days=(
        Any,
        Field(
            default="auto",
            description="Window of the user_rfm aggregates, in days, or 'auto' (the task's "
            "automatic lookback).",
        ),
    ),
    as_of=_AS_OF,
)
SamplesRunConfig = create_model(
    "SamplesRunConfig",
    __base__=_mirror(TaskConfig, "_TaskFields", exclude=("bucket",)),
    as_of=_AS_OF,
)
ModelRunConfig = _mirror(ModelConfig, "ModelRunConfig")
GatesRunConfig = _mirror(GatesConfig, "GatesRunConfig")


def task_from(samples_cfg: dg.Config, bucket: str) -> TaskConfig:
    return task_config(bucket, **samples_cfg.model_dump(exclude={"as_of"}))


def task_config(bucket: str, **fields: Any) -> TaskConfig:
    """A TaskConfig from run config fields; a bad value fails the step saying which field."""
    try:
        return TaskConfig(bucket=bucket, **fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise dg.Failure(description=f"invalid task run config: {problems}") from None


def run_config_for(cfg: BatConfig, as_of: str | None = None, ops: tuple[str, ...] = ()) -> dict:
    """Run config for the training job's ops from a BatConfig (only the ops named in `ops`)."""
    task = cfg.task.model_dump()
    by_op = {
        "user_activity": {
            "bucket": task["bucket"],
            "lookback_days": task["lookback_days"],
            "as_of": as_of,
        },
        "training_samples": {**{k: v for k, v in task.items() if k != "bucket"}, "as_of": as_of},
        "candidate_model": cfg.model.model_dump(),
        "model_evaluation": cfg.gates.model_dump(),
    }
    return {"ops": {op: {"config": conf} for op, conf in by_op.items() if not ops or op in ops}}


def resources_config(config_file: str | None) -> dict:
    """Resource config that points BAT at a YAML file (none = BAT_HOME/bat.yaml or defaults)."""
    return {"bat": {"config": {"config_file": config_file}}} if config_file else {}


def training_run_config(cfg: BatConfig, as_of: str | None, config_file: str | None) -> dict:
    """The training job's whole run config: every op's config, and the config file to use."""
    run_config = run_config_for(cfg, as_of)
    resources = resources_config(config_file)
    if resources:
        run_config["resources"] = resources
    return run_config
