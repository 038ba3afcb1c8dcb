"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models.loyalty  # noqa: F401  (its indexes on orders are declared outside the model)
from edges.db import make_engine
from models import Base


def test_the_migrated_database_matches_the_models(database_url):
    engine = make_engine(database_url)  # a fresh database, migrated to head by the fixture's template
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []
