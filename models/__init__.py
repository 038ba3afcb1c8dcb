"""The schema: SQLAlchemy 2 typed ORM models. Alembic migrations in ``migrations/`` create them."""

from models.base import Base
from models.feeds import FEED_MODELS
from models.ingest import InboxPath, IngestFile, QuarantineRow, Run
from models.outbox import EMAIL_KINDS, OUTBOX_STATUSES, OutboxMessage

__all__ = [
    "EMAIL_KINDS",
    "FEED_MODELS",
    "OUTBOX_STATUSES",
    "Base",
    "InboxPath",
    "IngestFile",
    "OutboxMessage",
    "QuarantineRow",
    "Run",
]
