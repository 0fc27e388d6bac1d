"""Dagster run config typed once: `dg.Config` classes mirrored from the pydantic sections.

The launchpad then shows every knob of `bat_pipeline.config` with the same description, and
with the value of the configuration in force when the code location loads (`LOADED_CONFIG`:
BAT_HOME/bat.yaml, else the code defaults) as its default: in the op config schema (so a
launch that sets only some fields, or the asset graph's Materialize, keeps bat.yaml's values
for the others) and as the jobs' default run config (`job_defaults`, which pre-fills the
launchpad). The CLI (`training_run_config`), the schedules and the sensors build their run
config from the config of their own moment, so all start from one config.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import BaseModel, Field, ValidationError, create_model

from bat_pipeline.config import BatConfig, TaskConfig, load_config
from bat_pipeline.errors import ConfigError
from bat_pipeline.home import BatHome

#: fields whose pydantic type Dagster's config system cannot express (a number or "auto"):
#: the launchpad takes any value there, and the pydantic section validates it
_UNTYPED = {"lookback_days"}


def config_in_force() -> BatConfig:
    """The configuration the code location loads with: what `BatHomeResource().config()`
    reads (BAT_HOME/bat.yaml, BAT_HOME from the environment else ./.bat; the defaults when
    there is no such file), without creating BAT_HOME. An invalid file raises `ConfigError`
    naming the file and the key, which the Dagster UI shows as the code location's error."""
    home = BatHome.from_env().root
    try:
        return load_config(None, home)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}\n(read when the Dagster code location loads, for the jobs' launchpad "
            "defaults: fix the file, then reload the code location)"
        ) from None


#: the configuration in force when the code location loads (`dagster dev`, `bat-pipeline ui`,
#: a reload of the code location): the launchpad's defaults
LOADED_CONFIG = config_in_force()


def _mirror(values: BaseModel, name: str, exclude: tuple[str, ...] = ()) -> type[dg.Config]:
    """A `dg.Config` with the fields of the section `values` is of, defaulting to `values`."""
    fields: dict[str, Any] = {}
    for key, info in type(values).model_fields.items():
        if key in exclude:
            continue
        annotation = Any if key in _UNTYPED else info.annotation
        default = getattr(values, key)
        fields[key] = (annotation, Field(default=default, description=info.description))
    return create_model(name, __base__=dg.Config, __doc__=type(values).__doc__, **fields)


_AS_OF = (
    str | None,
    Field(default=None, description="As-of date YYYY-MM-DD; null = the day after the last event."),
)

FeaturesRunConfig = create_model(
    "FeaturesRunConfig",
    __base__=dg.Config,
    bucket=(
        TaskConfig.model_fields["bucket"].annotation,
        Field(
            default=LOADED_CONFIG.task.bucket,
            description=TaskConfig.model_fields["bucket"].description,
        ),
    ),
    lookback_days=(
        Any,
        Field(
            default=LOADED_CONFIG.task.lookback_days,
            description="Window of the user_rfm aggregates, in days, or 'auto' (the task's "
            "automatic lookback).",
        ),
    ),
    as_of=_AS_OF,
)
SamplesRunConfig = create_model(
    "SamplesRunConfig",
    __base__=_mirror(LOADED_CONFIG.task, "_TaskFields", exclude=("bucket",)),
    as_of=_AS_OF,
)
ModelRunConfig = _mirror(LOADED_CONFIG.model, "ModelRunConfig")
GatesRunConfig = _mirror(LOADED_CONFIG.gates, "GatesRunConfig")


def task_from(samples_cfg: dg.Config, bucket: str) -> TaskConfig:
    return task_config(bucket, **samples_cfg.model_dump(exclude={"as_of"}))


def task_config(bucket: str, **fields: Any) -> TaskConfig:
    """A TaskConfig from run config fields; a bad value fails the step saying which field."""
    try:
        return TaskConfig(bucket=bucket, **fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise dg.Failure(description=f"invalid task run config: {problems}") from None


def features_op_config(task: TaskConfig, as_of: str | None = None) -> dict:
    """The `user_activity` op's config: the feature tables' bucket and lookback of `task`."""
    return {"bucket": task.bucket, "lookback_days": task.lookback_days, "as_of": as_of}


def run_config_for(cfg: BatConfig, as_of: str | None = None, ops: tuple[str, ...] = ()) -> dict:
    """Run config for the training job's ops from a BatConfig (only the ops named in `ops`)."""
    task = cfg.task.model_dump()
    by_op = {
        "user_activity": features_op_config(cfg.task, as_of),
        "training_samples": {**{k: v for k, v in task.items() if k != "bucket"}, "as_of": as_of},
        "candidate_model": cfg.model.model_dump(),
        "model_evaluation": cfg.gates.model_dump(),
    }
    return {"ops": {op: {"config": conf} for op, conf in by_op.items() if not ops or op in ops}}


def job_defaults(cfg: BatConfig, ops: tuple[str, ...]) -> dict:
    """A job's default run config (`define_asset_job(config=...)`): the config's values for
    the ops named in `ops`, shown and editable in the launchpad."""
    return run_config_for(cfg, None, ops)


def served_task(cfg: BatConfig, served: dict[str, str] | None) -> TaskConfig:
    """The bucket and lookback the serving model was trained with (`served`: its `task.*`
    MLflow params, see `lifecycle.serving.champion_task_params`), else the config's (no
    champion yet, or one trained before the params were logged)."""
    if not served or "bucket" not in served:
        return cfg.task
    try:
        return TaskConfig(
            bucket=served["bucket"], lookback_days=served.get("lookback_days", "auto")
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(
            f"the champion's recorded task settings are unusable: {problems}"
        ) from None


def scoring_run_config(
    cfg: BatConfig,
    served: dict[str, str] | None,
    as_of: str | None = None,
    config_file: str | None = None,
) -> dict:
    """The scoring job's run config: feature tables built with the bucket and lookback of the
    model that will score (`served_task`), so scoring never meets tables of another bucket."""
    run_config: dict = {
        "ops": {
            "user_activity": {"config": features_op_config(served_task(cfg, served), as_of)},
            "user_scores": {"config": {"as_of": as_of}},
        }
    }
    resources = resources_config(config_file)
    if resources:
        run_config["resources"] = resources
    return run_config


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
