"""The schema: SQLAlchemy 2 typed ORM models. Alembic migrations in ``migrations/`` create them."""

from models.base import Base
from models.feeds import FEED_MODELS
from models.ingest import InboxPath, IngestFile, QuarantineRow, Run
from models.loyalty import LoyaltyAccrual, PointsLedgerEntry, QuarterClose, QuarterReward, ReorderReminder

__all__ = [
    "FEED_MODELS",
    "Base",
    "InboxPath",
    "IngestFile",
    "LoyaltyAccrual",
    "PointsLedgerEntry",
    "QuarantineRow",
    "QuarterClose",
    "QuarterReward",
    "ReorderReminder",
    "Run",
]
