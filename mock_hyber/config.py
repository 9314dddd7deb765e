"""Settings: environment (MOCK_HYBER_*), an optional YAML/JSON config file, and CLI overrides."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    JsonConfigSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

DEFAULT_CLIENT_ID = "1001"
DEFAULT_LOGIN = "hyber"
DEFAULT_PASSWORD = "hyber"


MAX_DELAY = 100 * 365 * 86400  # the longest batch period or retry delay, seconds (100 years)
MAX_BACKOFF_FACTOR = 100  # factor ** (attempts - 1) stays a finite float up to 100 attempts

CallbackMode = Literal["single", "batched"]
NumberType = Literal["auto", "int", "string"]


class ViberTemplateSetting(BaseModel):
    """A registered Viber template: its id and its text, `{{name}}` for each variable part."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1)
    text: Annotated[str, Field(min_length=1, max_length=1000)]


class AccountOptions(BaseModel):
    """The callback options an account may set for itself (None: the server-wide setting of
    the same name applies). The control API changes them at runtime (`/_mock/settings`)."""

    model_config = ConfigDict(extra="forbid")

    callback_mode: CallbackMode | None = None
    callback_batch_size: int | None = Field(None, ge=1, le=10_000)
    callback_batch_period: float | None = Field(None, gt=0, le=MAX_DELAY)
    callback_report_seen: bool | None = None
    callback_report_late: bool | None = None
    callback_number_type: NumberType | None = None
    callback_hmac_secret: str | None = None
    inbound_url: str | None = None
    callback_max_attempts: int | None = Field(None, ge=1, le=100)
    callback_backoff: float | None = Field(None, ge=0, le=MAX_DELAY)
    callback_backoff_factor: float | None = Field(None, ge=1, le=MAX_BACKOFF_FACTOR)
    callback_backoff_max: float | None = Field(None, ge=0, le=MAX_DELAY)
    callback_jitter: float | None = Field(None, ge=0, le=1)


ACCOUNT_OPTIONS = tuple(AccountOptions.model_fields)


class Account(AccountOptions):
    """One Hyber account: the numeric client_id in the URL path, its Basic-auth credentials,
    and its own callback options (AccountOptions)."""

    # YAML reads `client_id: 1001` as a number; take it as the text it is.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    client_id: Annotated[str, Field(pattern=r"^\d{1,20}$")]
    login: Annotated[str, Field(min_length=1)]
    password: Annotated[str, Field(min_length=1)]
    viber_templates: list[ViberTemplateSetting] | None = None


def parse_accounts(value: Any) -> Any:
    """Accept a JSON list, a list of dicts, or the compact `id:login:password,...` form."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    accounts = []
    for chunk in filter(None, (part.strip() for part in text.split(","))):
        fields = chunk.split(":", 2)
        if len(fields) != 3:
            raise ValueError(f"account {chunk!r} is not client_id:login:password")
        accounts.append(dict(zip(("client_id", "login", "password"), fields, strict=True)))
    return accounts


class Settings(BaseSettings):
    """Every knob of the server. Each one is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="MOCK_HYBER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    accounts: Annotated[list[Account], NoDecode] = Field(
        default_factory=lambda: [
            Account(client_id=DEFAULT_CLIENT_ID, login=DEFAULT_LOGIN, password=DEFAULT_PASSWORD)
        ],
        min_length=1,
    )
    seed: int | None = None
    max_recipients: int = Field(50_000, ge=1)
    phone_pattern: str = r"^[1-9][0-9]{9,14}$"
    template_missing: Literal["keep", "empty", "reject"] = "keep"
    dr_delay: float = Field(10.0, ge=0, le=86400, description="virtual s before a DR is readable")
    whatsapp_min_ttl: int = Field(1, ge=1, le=604800, description="the docs give only the max")
    clock_speed: float = Field(1.0, gt=0, le=1_000_000)
    clock_frozen: bool = False
    clock_start: datetime | None = None
    scenarios_file: Path | None = None
    profile_file: Path | None = None
    codes_file: Path | None = None
    store: str = Field("memory", description="memory, or sqlite:///path/to/file.db")
    store_flush_interval: float = Field(0.2, gt=0, le=60)
    store_repair: bool = Field(False, description="start on what a damaged store still holds")
    retention_max_messages: int = Field(1_000_000, ge=1)
    retention_max_jobs: int = Field(100_000, ge=1)
    retention_max_callbacks: int = Field(1_000_000, ge=0)
    retention_max_age: float = Field(7 * 86400, gt=0)
    retention_interval: float = Field(5.0, gt=0)
    max_body_bytes: int = Field(100 * 1024 * 1024, ge=1024)
    body_timeout: float = Field(10.0, gt=0, le=3600, description="seconds between body parts")
    header_timeout: float = Field(10.0, gt=0, le=3600, description="seconds for request headers")
    admin_token: str | None = None
    log_format: Literal["text", "json"] = "text"
    shutdown_grace: float = Field(30.0, gt=0, description="seconds in-flight requests get")
    # Delivery-report callbacks: defaults for every account (accounts may override the first 8
    # and the 5 retry settings: AccountOptions).
    callback_mode: CallbackMode = "single"
    callback_batch_size: int = Field(100, ge=1, le=10_000)
    callback_batch_period: float = Field(1.0, gt=0, le=MAX_DELAY)
    callback_report_seen: bool = False
    callback_report_late: bool = False
    callback_number_type: NumberType = "auto"
    callback_hmac_secret: str | None = None
    inbound_url: str | None = None
    inbound_reply_keys: Literal["docs", "extended"] = "docs"
    viber_templates: list[ViberTemplateSetting] = Field(default_factory=list)
    whatsapp_sessions: Literal["inbound", "always"] = "inbound"
    callback_client: Literal["aiohttp", "httpx"] = "aiohttp"
    callback_timeout: float = Field(5.0, gt=0)
    callback_max_attempts: int = Field(5, ge=1, le=100)
    callback_backoff: float = Field(10.0, ge=0, le=MAX_DELAY)
    callback_backoff_factor: float = Field(2.0, ge=1, le=MAX_BACKOFF_FACTOR)
    callback_backoff_max: float = Field(3600.0, ge=0, le=MAX_DELAY)
    callback_jitter: float = Field(0.1, ge=0, le=1)
    callback_concurrency: int = Field(16, ge=1, le=1000)
    callback_destination_concurrency: int = Field(4, ge=1, le=1000)
    # Circuit breaker per account and destination, on the account's virtual clock.
    callback_breaker_threshold: int = Field(20, ge=0, le=100_000)  # 0: never opens
    callback_breaker_open: float = Field(30.0, gt=0, le=86_400)
    callback_breaker_open_max: float = Field(600.0, gt=0, le=604_800)
    callback_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    callback_block_loopback: bool = Field(False, description="refuse loopback destinations too")

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any) -> Any:
        return parse_accounts(value)

    @field_validator("callback_allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [host.strip() for host in text.split(",") if host.strip()]
        return value

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, value: list[Account]) -> list[Account]:
        ids = [account.client_id for account in value]
        if len(ids) != len(set(ids)):
            raise ValueError("client_id values must be unique")
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if value != "memory" and not (value.startswith("sqlite:///") and len(value) > 10):
            raise ValueError("store must be 'memory' or sqlite:///path/to/file.db")
        return value

    @field_validator("phone_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        re.compile(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments beat CLI values, which beat the environment, which beats the config file.
        config_file, values = _SOURCES.get()
        sources = [init_settings]
        if values:
            sources.append(_ValuesSource(settings_cls, values))
        sources.append(env_settings)
        path = config_file or os.environ.get(CONFIG_VARIABLE)
        if path:
            sources.append(_file_source(settings_cls, Path(path)))
        return tuple(sources)


CONFIG_VARIABLE = "MOCK_HYBER_CONFIG"

# What the next Settings() reads besides the environment: a config file and CLI values. A
# context variable rather than os.environ, so that building Settings changes nothing global.
_SOURCES: ContextVar[tuple[Path | None, Mapping[str, str]]] = ContextVar(
    "mock_hyber_settings_sources", default=(None, {})
)


class _ValuesSource(EnvSettingsSource):
    """`name -> text` pairs (the CLI's flags and --set) read exactly as environment variables."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str]) -> None:
        self._values = {f"mock_hyber_{name.lower()}": text for name, text in values.items()}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._values


def _must_be_a_mapping(path: Path | Traversable, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of settings")
    return data


class _YamlFile(YamlConfigSettingsSource):
    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        try:
            data = super()._read_file(file_path)
        except yaml.YAMLError as exc:
            # Only the position: yaml's own message quotes the line, which may hold a password.
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise ValueError(f"config file {file_path} is not valid YAML{where}") from None
        return _must_be_a_mapping(file_path, data)


class _JsonFile(JsonConfigSettingsSource):
    def _read_file(self, file_path: Path) -> dict[str, Any]:
        return _must_be_a_mapping(file_path, super()._read_file(file_path))


def _file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    """pydantic-settings' YAML or JSON source (by suffix; YAML reads JSON too) for `path`.
    Those sources skip a missing file silently; a named file that is missing is an error."""
    if not path.expanduser().is_file():
        raise FileNotFoundError(f"config file {path} not found")
    if path.suffix.lower() == ".json":
        return _JsonFile(settings_cls, json_file=path)
    return _YamlFile(settings_cls, yaml_file=path)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    values: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from `overrides`, then `values` (text, parsed as environment variables
    are), the environment and the config file (`config_file`, else MOCK_HYBER_CONFIG)."""
    path = Path(config_file) if config_file is not None else None
    token = _SOURCES.set((path, dict(values or {})))
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    finally:
        _SOURCES.reset(token)
