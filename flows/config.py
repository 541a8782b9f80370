"""The one config file: a validated pydantic model made of the libraries' own config dataclasses.

Each section that configures an algorithm *is* that algorithm's frozen dataclass (``ingest`` is
``features.ingest.IngestOptions``, ``audio.fetch`` is ``audio.fetch.FetchPolicy``, ...), so its
defaults live once, beside its code. Relative paths resolve against the config file's folder.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from datetime import date, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audio.decode import AudioLimits
from audio.emotion import EmotionOptions
from audio.fetch import FetchPolicy
from audio.storage import without_credentials
from features.activity import ActivityRules
from features.attributes import AttributeOptions
from features.errors import EngageError
from features.fairness import FairnessOptions
from features.groups import GroupOptions
from features.risk.options import RiskOptions
from features.ingest import IngestOptions
from features.nudges.options import NudgeOptions
from features.scoring.components import ScoringOptions
from features.select import Selection
from features.sessions import SessionRules
from flows.runners import RunnerOptions
from outputs.quality import QualityGates


class ConfigError(EngageError):
    """A config file that cannot be used; the message names the file, key and value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputsConfig(_Strict):
    telemetry: list[str] = Field(min_length=1)  # paths, globs, gs://bucket/prefix/ or gs:// globs
    curriculum: str  # the platform's curriculum YAML
    attributes: str | None = None  # learner attributes (CSV, Parquet or NDJSON; local or gs://): fairness only


class AudioConfig(_Strict):
    enabled: bool = True
    cache_dir: str | None = None  # None: <output.root>/_cache
    cache_max_mb: int = Field(4096, ge=16)
    batch_size: int = Field(1000, ge=10)  # responses per fetch/analysis task
    analysis_workers: int | None = Field(None, ge=1)  # None: one per CPU core
    fetch: FetchPolicy = FetchPolicy()
    limits: AudioLimits = AudioLimits()


class HeadsConfig(_Strict):
    fluency: str | None = None  # a head file from `engage train-fluency`
    emotion: str | None = None  # a head file from `engage train-emotion`


class StorageConfig(_Strict):
    project: str | None = None


class OutputConfig(_Strict):
    root: str
    work_dir: str | None = None  # None: <root>/_work
    registry: str | None = None  # the model registry; None: <root>/_registry


class EngageConfig(_Strict):
    """Everything a run needs besides its parameters (as_of, run_date)."""

    inputs: InputsConfig
    output: OutputConfig
    storage: StorageConfig = StorageConfig()
    ingest: IngestOptions = IngestOptions()
    select: Selection = Selection()
    sessions: SessionRules = SessionRules()
    activity: ActivityRules = ActivityRules()
    quality: QualityGates = QualityGates()
    scoring: ScoringOptions = ScoringOptions()
    groups: GroupOptions = GroupOptions()
    risk: RiskOptions = RiskOptions()
    nudges: NudgeOptions = NudgeOptions()
    attributes: AttributeOptions = AttributeOptions()
    fairness: FairnessOptions = FairnessOptions()
    audio: AudioConfig = AudioConfig()
    emotion: EmotionOptions = EmotionOptions()
    heads: HeadsConfig = HeadsConfig()
    runner: RunnerOptions = RunnerOptions()

    @property
    def cache_dir(self) -> str:
        """Where downloaded audio and analysis results are cached."""
        return self.audio.cache_dir or str(Path(self.output.root) / "_cache")

    @property
    def work_root(self) -> str:
        """Where runs keep their scratch folders."""
        return self.output.work_dir or str(Path(self.output.root) / "_work")

    @property
    def registry_root(self) -> str:
        """The model registry (scoring references, learner groups, risk models)."""
        return self.output.registry or str(Path(self.output.root) / "_registry")


class RunParameters(BaseModel):
    """The flow's parameters: which config, and the run's as_of time and run date.

    ``as_of`` defaults to the latest event time in the data; ``run_date`` to as_of's UTC date.
    """

    model_config = ConfigDict(extra="forbid")
    config_file: str
    as_of: datetime | None = None
    run_date: date | None = None


def load_config(path: str | Path) -> EngageConfig:
    """Load and validate a config file.

    Raises:
        ConfigError: unreadable YAML, or a key that is unknown, missing or has a bad value; the
            message names the file, the key path and the offending value.
    """
    source = str(path)
    try:
        doc = yaml.safe_load(Path(source).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read config: {str(exc).splitlines()[0]}") from None
    try:
        config = EngageConfig.model_validate(doc)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "<top>"
            value = err.get("input")
            shown = f" (got {value!r})" if not isinstance(value, dict) else ""
            lines.append(f"{source}: {key}: {err['msg']}{shown}")
        raise ConfigError("; ".join(lines)) from None
    return _resolve_paths(config, Path(path).resolve().parent)


def load_run_config(path: str | Path) -> EngageConfig:
    """Load the config and check what a run needs before it starts: the curriculum parses,
    each configured head file is a head this engage can apply, and the nudge rules name only
    features a run computes.

    Raises:
        ConfigError, features.curriculum.CurriculumError, audio.heads.model.HeadFileError,
        features.nudges.rules.NudgeRuleError.
    """
    from audio.heads.model import load_head
    from features.curriculum import load_curriculum
    from features.nudges.features import FEATURES
    from features.nudges.rules import load_rules

    config = load_config(path)
    if config.nudges.opt_out_attribute and not config.inputs.attributes:
        raise ConfigError(f"{path}: nudges.opt_out_attribute: names a learner attribute, but inputs.attributes "
                          f"gives no attributes file (got {config.nudges.opt_out_attribute!r})")
    if config.runner.on_cluster and importlib.util.find_spec("prefect_dask") is None:
        raise ConfigError(f"{path}: runner.kind: dask needs prefect-dask, which is not installed "
                          f"(pip install -e '.[dask]')")
    load_curriculum(config.inputs.curriculum)
    if config.nudges.rules:
        load_rules(config.nudges.rules, set(FEATURES))
    for kind in ("fluency", "emotion"):
        if getattr(config.heads, kind):
            load_head(getattr(config.heads, kind), kind)
    return config


def _resolve_paths(config: EngageConfig, base: Path) -> EngageConfig:
    stripped = []

    def resolve(p: str | None) -> str | None:
        if p is None or Path(p).is_absolute():
            return p
        if p.startswith("gs://"):
            clean, had = without_credentials(p)
            if had:
                stripped.append(clean)
            return clean
        return str(base / p)

    model = config.emotion.model
    fetch = config.audio.fetch
    resolved = config.model_copy(update={
        "inputs": config.inputs.model_copy(update={
            "telemetry": [resolve(s) for s in config.inputs.telemetry],
            "curriculum": resolve(config.inputs.curriculum), "attributes": resolve(config.inputs.attributes)}),
        "output": config.output.model_copy(update={
            "root": resolve(config.output.root), "work_dir": resolve(config.output.work_dir),
            "registry": resolve(config.output.registry)}),
        "audio": config.audio.model_copy(update={
            "cache_dir": resolve(config.audio.cache_dir),
            "fetch": dataclasses.replace(fetch, allowed_prefixes=tuple(resolve(p) for p in fetch.allowed_prefixes))}),
        "nudges": dataclasses.replace(config.nudges, rules=resolve(config.nudges.rules)),
        "heads": config.heads.model_copy(update={
            "fluency": resolve(config.heads.fluency), "emotion": resolve(config.heads.emotion)}),
        # A model name is a local folder when one exists there, else a hub id.
        "emotion": dataclasses.replace(config.emotion, model=resolve(model) if model and (base / model).exists() else model),
    })
    if stripped:  # the credentials themselves are never repeated, here or anywhere
        logging.getLogger("engage.config").warning(
            "credentials in gs:// URIs are ignored (engage uses the storage client's own credentials): %s",
            ", ".join(stripped))
    return resolved
