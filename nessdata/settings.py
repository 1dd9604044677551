"""Every setting, declared once with its default and help.

Values come from the environment (``NESSDATA_<NAME>``); secrets only from there.
"""

from __future__ import annotations

from functools import cached_property
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

    # -- Omie (issue 4) -----------------------------------------------------------
    omie_url: str = Field(
        "https://app.omie.com.br/api/v1", description="Base URL of the Omie API."
    )
    omie_app_key: SecretStr | None = Field(None, description="Omie app_key.")
    omie_app_secret: SecretStr | None = Field(None, description="Omie app_secret.")

    # -- web (issue 6) ------------------------------------------------------------
    cron_secret: SecretStr | None = Field(
        None,
        description="Bearer secret of the /api/cron endpoints; unset, they refuse "
        "every call.",
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
