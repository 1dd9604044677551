"""Every setting, declared once with its default and help.

Values come from the environment (``NESSDATA_<NAME>``); secrets only from there.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NESSDATA_", extra="ignore")

    # -- storage and time -------------------------------------------------------
    database_url: str = Field(
        "sqlite:///nessdata.db",
        description="SQLAlchemy URL of the database: a SQLite file (the default, "
        "in the working directory) or postgresql+psycopg://user@host/dbname.",
    )
    timezone: str = Field(
        "America/Sao_Paulo",
        description="IANA time zone of the business: it decides which calendar day "
        "and month an instant belongs to.",
    )
    log_level: str = Field("INFO", description="Logging level of the CLI.")

    # -- events -----------------------------------------------------------------
    max_payload_bytes: int = Field(
        65536, description="Largest event payload accepted, as serialised JSON bytes."
    )

    # -- BCB (issue 3) ------------------------------------------------------------
    bcb_sgs_url: str = Field(
        "https://api.bcb.gov.br/dados/serie",
        description="Base URL of the BCB SGS API (point it at a stub in tests).",
    )
    bcb_ptax_url: str = Field(
        "https://olinda.bcb.gov.br/olinda/servico/PTAX/versao/v1/odata",
        description="Base URL of the BCB PTAX OData API.",
    )
    bcb_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for one BCB response."
    )
    bcb_attempts: int = Field(
        5, ge=1, description="Tries per BCB request before a sync gives up."
    )
    bcb_retry_wait: float = Field(
        2.0,
        ge=0,
        description="Seconds before the first retry of a failed BCB request; each "
        "retry waits about twice as long (with jitter), at most 60 s.",
    )
    bcb_pause: float = Field(
        0.5, ge=0, description="Seconds between two BCB requests (BCB throttles)."
    )
    bcb_trailing_months: int = Field(
        3,
        ge=1,
        description="Months back a BCB sync with no dates covers, so late "
        "publications and revisions are picked up.",
    )

    # -- Omie (issue 4) -----------------------------------------------------------
    omie_url: str = Field(
        "https://app.omie.com.br/api/v1", description="Base URL of the Omie API."
    )
    omie_app_key: SecretStr | None = Field(None, description="Omie app_key.")
    omie_app_secret: SecretStr | None = Field(None, description="Omie app_secret.")
    omie_page_size: int = Field(
        100, ge=1, le=500, description="registros_por_pagina of Omie listings."
    )
    omie_max_pages: int = Field(
        500, ge=1, description="Most pages read from one Omie listing: a guard "
        "against a server that keeps sending pages; more is an error.",
    )
    omie_pause_seconds: float = Field(
        0.3, ge=0, description="Least time between two calls of the same Omie "
        "method (Omie allows 240 calls a minute per key and method).",
    )
    omie_max_retries: int = Field(
        4, ge=0, description="Retries of one Omie call that failed transiently "
        "(busy, redundant call, 429, server fault, timeout, HTML).",
    )
    omie_max_wait_seconds: float = Field(
        120, ge=0, description="Longest wait Omie may ask for before a retry; asked "
        "for more, the run fails and says when to try again.",
    )
    omie_timeout_seconds: float = Field(
        30, gt=0, description="Timeout of one Omie HTTP call."
    )
    omie_client_tag: str | None = Field(
        None, description="Keep only the Omie clients with this tag (e.g. Cliente); "
        "unset keeps every client.",
    )
    omie_sync_cooldown_seconds: int = Field(
        300, ge=0, description="A manual Omie sync within this many seconds of the "
        "previous run of the same sync is refused (Omie refuses repeated calls).",
    )

    # -- indices (issue 5) --------------------------------------------------------
    indices_base_month: str | None = Field(
        None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="Month (YYYY-MM) whose money the mrr_real index is expressed "
        "in; unset, mrr_real is stored as missing.",
    )

    # -- web (issue 6) ------------------------------------------------------------
    cron_secret: SecretStr | None = Field(
        None,
        description="Bearer secret of the /api/cron endpoints; unset, they refuse "
        "every call.",
    )
    session_secret: SecretStr | None = Field(
        None,
        description="Key that signs the page's session cookies. Unset, each server "
        "process makes a random one: sessions then end when it restarts and are not "
        "shared between worker processes.",
    )
    session_hours: int = Field(
        12, ge=1, description="Hours a page session lasts after logging in."
    )
    cookie_secure: bool = Field(
        False,
        description="Send the session cookie over HTTPS only; set it to true when "
        "the app is served behind HTTPS.",
    )
    cookie_samesite: Literal["lax", "strict"] = Field(
        "lax", description="SameSite attribute of the session cookie."
    )
    web_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body the web app accepts."
    )
    trigger_cooldown_seconds: int = Field(
        300,
        ge=0,
        description="Seconds after a job was run from the page or /api/jobs before "
        "it can be run from there again (cron calls are not held back).",
    )
    schedule_rollup: str = Field(
        "0 3 * * *",
        description="Cron schedule (minute hour day month weekday, business time "
        "zone) of the rollup in `nessdata scheduler`; empty turns it off.",
    )
    schedule_bcb: str = Field(
        "0 14 * * 1-5", description="Cron schedule of the BCB rates sync."
    )
    schedule_omie: str = Field(
        "0 4 * * *", description="Cron schedule of the Omie revenue sync."
    )
    schedule_indices: str = Field(
        "0 5 * * *", description="Cron schedule of the indices recompute."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides on top."""
    from pydantic import ValidationError

    from .errors import ConfigError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"NESSDATA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
