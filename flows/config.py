"""The one config file: a validated pydantic model, and the flow's run parameters.

Relative paths in a config file are resolved against that file's folder; in the embedded
default config (the demo's) against the current working directory.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file, key and value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelemetryConfig(_Strict):
    sources: list[str] = Field(min_length=1)
    format: Literal["auto", "ndjson", "array"] = "auto"
    field_map: dict[str, str] = Field(default_factory=dict)
    naive_timezone: str = "UTC"
    max_quarantine_share: float = Field(0.05, ge=0, le=1)
    memory_limit_mb: int = Field(2048, ge=128)

    @field_validator("naive_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("field_map")
    @classmethod
    def _valid_map(cls, value: dict[str, str]) -> dict[str, str]:
        from features.telemetry_schema import FieldMap

        FieldMap.with_overrides(value)
        return value


class SelectConfig(_Strict):
    levels: list[str] = Field(default_factory=list)
    cohorts: list[str] = Field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


class SessionsConfig(_Strict):
    inactivity_gap_minutes: float = Field(30.0, gt=0)


class MappingConfig(_Strict):
    curriculum: str | None = None  # None: the embedded demo curriculum
    max_unmapped_share: float = Field(0.05, ge=0, le=1)


class AudioConfig(_Strict):
    enabled: bool = True
    allowed_prefixes: list[str] = Field(default_factory=list)  # gs://bucket/prefix/ or local folders
    cache_dir: str | None = None  # None: <output.root>/_cache
    cache_max_mb: int = Field(4096, ge=16)
    fetch_workers: int = Field(8, ge=1, le=64)
    analysis_workers: int | None = None  # None: one per CPU core
    batch_size: int = Field(1000, ge=10)
    min_duration_s: float = 0.3
    max_duration_s: float = 60.0
    silence_dbfs: float = -55.0
    min_snr_db: float = 6.0


class EmotionConfig(_Strict):
    model: str | None = None  # Hugging Face id or local folder; None: no emotion analysis
    revision: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["en"])  # course languages it covers
    batch_size: int = Field(16, ge=1)
    device: str | None = None  # None: cuda when available, else cpu


class HeadsConfig(_Strict):
    fluency: str | None = None  # a head file from `engage train-fluency`
    emotion: str | None = None  # a head file from `engage train-emotion` (beside the model above)


class StorageConfig(_Strict):
    project: str | None = None


class OutputConfig(_Strict):
    root: str
    work_dir: str | None = None  # None: <root>/_work


class EngageConfig(_Strict):
    """Everything a run needs besides its parameters (as_of, run_date)."""

    telemetry: TelemetryConfig
    select: SelectConfig = SelectConfig()
    sessions: SessionsConfig = SessionsConfig()
    mapping: MappingConfig = MappingConfig()
    storage: StorageConfig = StorageConfig()
    audio: AudioConfig = AudioConfig()
    emotion: EmotionConfig = EmotionConfig()
    heads: HeadsConfig = HeadsConfig()
    output: OutputConfig


class RunParameters(BaseModel):
    """The flow's parameters: which config, and the run's as_of time and run date.

    ``as_of`` defaults to the latest event time in the data; ``run_date`` to as_of's UTC date.
    """

    model_config = ConfigDict(extra="forbid")
    config_file: str | None = None
    as_of: datetime | None = None
    run_date: date | None = None


DEFAULT_CONFIG = "default_config.yaml"


def load_config(path: str | Path | None = None) -> EngageConfig:
    """Load and validate a config file (the embedded demo default when ``path`` is None).

    Raises:
        ConfigError: unreadable YAML, or a key that is unknown, missing or has a bad value; the
            message names the file, the key path and the offending value.
    """
    if path is None:
        source, base = str(resources.files("flows").joinpath(DEFAULT_CONFIG)), Path.cwd()
    else:
        source, base = str(path), Path(path).resolve().parent
    try:
        doc = yaml.safe_load(Path(source).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read config: {exc}") from exc
    try:
        config = EngageConfig.model_validate(doc)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "<top>"
            value = err.get("input")
            shown = f" (got {value!r})" if not isinstance(value, dict) else ""
            lines.append(f"{source}: {key}: {err['msg']}{shown}")
        raise ConfigError("\n".join(lines)) from None
    return _resolve_paths(config, base)


def _resolve_paths(config: EngageConfig, base: Path) -> EngageConfig:
    def resolve(p: str | None) -> str | None:
        if p is None or p.startswith("gs://") or Path(p).is_absolute():
            return p
        return str(base / p)

    return config.model_copy(update={
        "telemetry": config.telemetry.model_copy(
            update={"sources": [resolve(s) for s in config.telemetry.sources]}),
        "mapping": config.mapping.model_copy(update={"curriculum": resolve(config.mapping.curriculum)}),
        "output": config.output.model_copy(
            update={"root": resolve(config.output.root), "work_dir": resolve(config.output.work_dir)}),
        "audio": config.audio.model_copy(update={
            "cache_dir": resolve(config.audio.cache_dir),
            "allowed_prefixes": [p if p.startswith("gs://") else resolve(p) for p in config.audio.allowed_prefixes]}),
        "heads": config.heads.model_copy(update={
            "fluency": resolve(config.heads.fluency), "emotion": resolve(config.heads.emotion)}),
        "emotion": config.emotion.model_copy(update={
            "model": resolve(config.emotion.model) if config.emotion.model and Path(base, config.emotion.model).exists()
            else config.emotion.model}),
    })
