"""Runtime settings: the environment variables of contract section 6 (and an optional `.env`)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_serializer, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEQING_", env_file=".env", extra="ignore")

    inbox: Path = Path("data/inbox")
    database_url: str = "sqlite:///data/edges.db"
    outbox: Path = Path("out/outbox")
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    mail_from: str | None = None
    # Delivery: seconds to wait for any SMTP answer, and how a 4xx answer or a lost connection is
    # retried within one run (attempts per message, first delay doubled each round, capped).
    smtp_timeout: float = Field(default=60.0, gt=0)
    smtp_max_attempts: int = Field(default=4, ge=1, le=20)
    smtp_retry_delay: float = Field(default=5.0, ge=0)
    smtp_retry_delay_max: float = Field(default=120.0, ge=0)
    # A private CA that signed the SMTP server's certificate (default: the system's trusted CAs).
    smtp_ca_file: Path | None = None
    rules: Path | None = Field(default=None, description="YAML file overriding rules of contract section 4")
    # Fan-out (``nightly(fan_out=True)``): the work queue of each region's email flow run, e.g.
    # ``{"华东": "east", "未分区": "east"}`` (JSON in the environment); a region not named here goes to
    # the regional deployment's own queue. And how long the nightly run waits for the regions.
    region_queues: dict[str, str] = Field(default_factory=dict)
    region_wait_seconds: float = Field(default=4 * 3600, gt=0)
    # `keqing prefect setup`: ops are alerted when a nightly run is not Completed by this time of the
    # nightly schedule's time zone (Asia/Shanghai), e.g. KEQING_ALERT_DEADLINE=07:00.
    alert_deadline: dt.time = dt.time(6, 30)

    @field_validator("smtp_host", "smtp_user", "mail_from", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_serializer("database_url", when_used="json")
    def _url_without_password(self, url: str) -> str:
        """Prefect records the parameters of subflows (these settings among them) as JSON in its API:
        the database password must not go there (the SMTP password is a SecretStr already)."""
        import sqlalchemy as sa

        try:
            return sa.make_url(url).render_as_string(hide_password=True)
        except Exception:  # not a URL SQLAlchemy can parse: show nothing of it
            return "***"

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
