"""Settings: environment (MOCK_HYBER_*), an optional YAML/JSON config file, and CLI overrides."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

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
    """Every knob of the server. Each one is documented in the README's Configuration table."""

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
        # CLI flags beat the environment, which beats the config file.
        return (init_settings, env_settings, ConfigFileSource(settings_cls))


class ConfigFileSource(PydanticBaseSettingsSource):
    """Reads the YAML or JSON file named by MOCK_HYBER_CONFIG (keys as in Settings)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("MOCK_HYBER_CONFIG")
        if not path:
            return {}
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a mapping of settings")
        return data


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build Settings, optionally from a config file, with explicit overrides on top."""
    if config_file is not None:
        os.environ["MOCK_HYBER_CONFIG"] = str(config_file)
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
