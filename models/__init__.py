"""The schema: SQLAlchemy 2 typed ORM models. Alembic migrations in ``migrations/`` create them."""

from models.base import Base
from models.feeds import FEED_MODELS
from models.grading import CustomerGrade, OrphanCustomer, RepAttainment, VisitTarget
from models.ingest import InboxPath, IngestFile, QuarantineRow, Run
from models.loyalty import LoyaltyAccrual, PointsLedgerEntry, QuarterClose, QuarterReward, ReorderReminder
from models.outbox import EMAIL_KINDS, OUTBOX_STATUSES, OutboxMessage
from models.supply import (
    SUPPLY_MODELS,
    CallbackEntry,
    CallbackLoad,
    ExpiryEntry,
    ExpiryTarget,
    HomeVisitPatient,
    HomeVisitPlan,
    PatientSupply,
    SupplyContact,
    SupplyContactChange,
    SupplyCoverage,
    SupplyCoverageChange,
    SupplyCoverageProduct,
)

__all__ = [
    "EMAIL_KINDS",
    "FEED_MODELS",
    "OUTBOX_STATUSES",
    "SUPPLY_MODELS",
    "Base",
    "CallbackEntry",
    "CallbackLoad",
    "CustomerGrade",
    "ExpiryEntry",
    "ExpiryTarget",
    "HomeVisitPatient",
    "HomeVisitPlan",
    "InboxPath",
    "IngestFile",
    "LoyaltyAccrual",
    "OrphanCustomer",
    "OutboxMessage",
    "PatientSupply",
    "PointsLedgerEntry",
    "QuarantineRow",
    "QuarterClose",
    "QuarterReward",
    "ReorderReminder",
    "RepAttainment",
    "Run",
    "SupplyContact",
    "SupplyContactChange",
    "SupplyCoverage",
    "SupplyCoverageChange",
    "SupplyCoverageProduct",
    "VisitTarget",
]
