"""Settings from the environment, and which inbox files belong to which feed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keqing.feeds import FEEDS, feed_for_filename
from keqing.settings import Settings
from models import FEED_MODELS


def test_settings_defaults_and_environment(monkeypatch):
    for name in ("KEQING_INBOX", "KEQING_DATABASE_URL", "KEQING_OUTBOX", "KEQING_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(_env_file=None)
    assert (s.inbox, s.database_url, s.outbox) == (Path("data/inbox"), "sqlite:///data/edges.db", Path("out/outbox"))
    assert not s.smtp_enabled
    monkeypatch.setenv("KEQING_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("KEQING_SMTP_PASSWORD", "s3cret")
    s = Settings(_env_file=None)
    assert s.smtp_enabled and "s3cret" not in repr(s)


def test_a_wrong_setting_is_an_error(monkeypatch):
    monkeypatch.setenv("KEQING_SMTP_SECURITY", "tls-please")
    with pytest.raises(ValidationError, match="smtp_security"):
        Settings(_env_file=None)


@pytest.mark.parametrize(
    ("name", "feed"),
    [
        ("purchases.csv", "purchases"),
        ("purchases_20261121.csv", "purchases"),
        ("visits-east.xlsx", "visits"),
        ("rx_monthly_2026-10.csv", "rx_monthly"),
        ("Patients.CSV", "patients"),
        ("readme.txt", None),
        ("sales.csv", None),
    ],
)
def test_feed_for_filename(name, feed):
    assert feed_for_filename(name) == feed


def test_every_feed_column_has_a_table_column_with_the_right_nullability():
    for name, feed in FEEDS.items():
        table = FEED_MODELS[name].__table__
        for column in feed.columns:
            assert column.name in table.c, f"{name}.{column.name}"
            if column.required:
                assert not table.c[column.name].nullable, f"{name}.{column.name} should be NOT NULL"
        assert [c.name for c in table.primary_key.columns] == list(feed.key)


def test_settings_recorded_as_a_prefect_parameter_hold_no_password():
    # Subflows take the settings as a parameter, and Prefect stores parameters as JSON in its API.
    from fastapi.encoders import jsonable_encoder

    settings = Settings(database_url="postgresql+psycopg://keqing:s3cret@db/keqing", smtp_password="pw", _env_file=None)
    recorded = jsonable_encoder(settings)
    assert recorded["database_url"] == "postgresql+psycopg://keqing:***@db/keqing"
    assert recorded["smtp_password"] == "**********"
    assert settings.database_url == "postgresql+psycopg://keqing:s3cret@db/keqing"
