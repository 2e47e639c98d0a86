"""Settings, from a TOML file and `CLAUSEWATCH_*` environment variables.

Precedence: environment > file (`CLAUSEWATCH_CONFIG` or `./clausewatch.toml`) > defaults.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clausewatch import __version__
from clausewatch.schedules import DAYS, parse_capture_time, parse_digest_at, parse_frequency

DEFAULT_USER_AGENT = (
    f"clausewatch/{__version__} (+https://github.com/clausewatch/clausewatch; "
    "archives public terms and policies)"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAUSEWATCH_", extra="forbid")

    data_dir: Path = Field(Path("data"), description="Folder for the embedded database and store")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/clausewatch.db"
    )
    snapshot_store: str | None = Field(
        None, description="Snapshot store URL; default file://<data_dir>/snapshots"
    )
    registry_paths: list[Path] = Field(
        default_factory=list, description="Registry files or folders; default: the starter registry"
    )
    fetch_concurrency: int = Field(8, ge=1, description="Documents fetched at once, all hosts")
    per_host_delay: float = Field(1.0, ge=0, description="Seconds between requests to one host")
    fetch_timeout: float = Field(30.0, gt=0, description="Seconds per request")
    fetch_retries: int = Field(3, ge=0, description="Retries on transient errors")
    max_body_bytes: int = Field(20_000_000, gt=0, description="Largest body accepted")
    max_redirects: int = Field(10, ge=0)
    user_agent: str = DEFAULT_USER_AGENT
    browser_executable: Path = Field(Path("/usr/bin/chromium"), description="Chromium binary")
    browser_fallback: bool = Field(True, description="Retry blocked HTTP responses in a browser")
    confirm_delay: float = Field(
        5.0, ge=0, description="Seconds before the confirming fetch of a detected change"
    )
    flipflop_window_days: float = Field(
        7.0, ge=0, description="A→B→A within this window is one variant, not two changes"
    )
    llm_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible API (…/v1) that rephrases provision "
        "narratives; off when unset. Rewrites that fail the grounding check are discarded",
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the LLM API")
    llm_api_key: SecretStr | None = Field(
        None, description="Bearer token for the LLM API (never logged or shown)"
    )
    queue_url: str = Field(
        "sqlite",
        description="Task queue (docs/jobs.md): sqlite (embedded, <data_dir>/queue.db; or "
        "sqlite:///path), redis://host:6379/0, or postgresql://… for many workers on many machines",
    )
    capture_time: str = Field(
        "06:00",
        description="Daily capture time, HH:MM in UTC; slots of sub-daily frequencies start here",
    )
    default_frequency: str = Field(
        "daily",
        description="Capture frequency of documents whose declaration sets none: hourly, daily, "
        "weekly, fortnightly, monthly, or 12h / 2d / 1w",
    )
    workers: int = Field(
        8,
        ge=1,
        description="Worker threads of `clausewatch worker` and `up` (they mostly wait: the "
        "checks run side by side in one capture loop per process)",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public address of the site, for links in emails, feeds and webhooks",
    )
    http_cache_seconds: int = Field(
        60,
        ge=0,
        description="max-age of anonymous GET pages and API reads, and the longest a rendered "
        "response stays in the in-process cache (0: no HTTP caching; docs/web.md)",
    )
    web_threads: int | None = Field(
        None,
        ge=1,
        description="Requests a server process works on at once (its worker threads); more "
        "wait their turn. Default: 4 on SQLite (pages are CPU work under one GIL: more threads "
        "add switching, not throughput), 16 on PostgreSQL (its statements wait on the "
        "network); docs/web.md",
    )
    response_cache_mb: int = Field(
        64, ge=0, description="Size of the in-process cache of rendered responses, per process"
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server for alerts, digests and resets")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = Field("clausewatch <alerts@localhost>", description="From: of every email")
    smtp_username: str | None = Field(None, description="SMTP login, when the server needs one")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (never logged)")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS")
    webhook_deadline_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest one webhook send may take, connect + send + response together "
        "(a slower receiver fails the attempt, retried with backoff; docs/alerts.md)",
    )
    pdf_renders: int = Field(
        2, ge=1, description="PDF exports laid out at once, per process (docs/security.md)"
    )
    pdf_queue: int = Field(
        4,
        ge=0,
        description="PDF requests that may wait for a render slot, per process; more get 429",
    )
    pdf_queue_seconds: float = Field(
        10.0, gt=0, description="Longest a PDF request waits for a render slot before a 429"
    )
    pdf_cache_mb: int = Field(
        256,
        ge=0,
        description="Disk cache of rendered PDFs under <data_dir>/pdf-cache, by content hash "
        "(0: none)",
    )
    max_request_bytes: int = Field(
        2_000_000,
        gt=0,
        description="Largest request body the web server reads (any route); larger ones get "
        "413 before they are read, chunked ones as soon as they pass it (docs/security.md)",
    )
    classify_per_minute: int = Field(
        30,
        ge=1,
        description="POST /api/v1/classify requests a minute per API key or client address",
    )
    allow_private_urls: bool = Field(
        False,
        description="Allow webhook and other user-supplied URLs on private, loopback and "
        "link-local addresses (tests and closed networks only)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-For names the client; empty: the header is ignored (docs/security.md)",
    )
    session_days: int = Field(30, ge=1, description="Days a login session lasts")
    digest_at: str = Field(
        "monday 07:00",
        description="When the weekly digest of the past ISO week is sent: a weekday and HH:MM "
        "in UTC (docs/alerts.md)",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs the CSRF tokens of anonymous forms; default: a random key kept in "
        "<data_dir>/secret.key (set it when several web servers share one database)",
    )

    @field_validator("capture_time")
    @classmethod
    def _capture_time(cls, value: str) -> str:
        return parse_capture_time(value).strftime("%H:%M")

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        return [str(ipaddress.ip_network(item.strip(), strict=False)) for item in value]

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, value: str) -> str:
        day, at = parse_digest_at(value)
        return f"{DAYS[day]} {at:%H:%M}"

    @field_validator("default_frequency")
    @classmethod
    def _default_frequency(cls, value: str) -> str:
        parse_frequency(value)
        return value.strip().lower()

    @field_validator("queue_url")
    @classmethod
    def _queue_url(cls, value: str) -> str:
        schemes = ("sqlite", "redis", "rediss", "unix", "postgres", "postgresql")
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in schemes:
            raise ValueError(
                f"unsupported queue {value!r}: expected sqlite, sqlite:///path, redis://… or "
                "postgresql://…"
            )
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
        toml_file = os.environ.get("CLAUSEWATCH_CONFIG", "clausewatch.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'clausewatch.db'}"

    @property
    def resolved_snapshot_store(self) -> str:
        return self.snapshot_store or f"file://{(self.data_dir / 'snapshots').resolve()}"


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
