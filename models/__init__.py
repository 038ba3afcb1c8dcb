"""The schema: SQLAlchemy 2 typed ORM models. Alembic migrations in ``migrations/`` create them."""

from models.base import Base
from models.feeds import FEED_MODELS
from models.grading import CustomerGrade, GradeMovement, OrphanCustomer, RepAttainment, VisitTarget
from models.ingest import InboxPath, IngestFile, QuarantineRow, Run

__all__ = [
    "FEED_MODELS",
    "Base",
    "CustomerGrade",
    "GradeMovement",
    "InboxPath",
    "IngestFile",
    "OrphanCustomer",
    "QuarantineRow",
    "RepAttainment",
    "Run",
    "VisitTarget",
]
