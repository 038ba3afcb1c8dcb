"""Customer grading and reps' daily visit targets (contract section 4: Grading, Visit standards).

Pure functions over Polars frames; ``tasks/grading.py`` reads their inputs and writes their outputs.
"""

from keqing.grading.attainment import VisitFacts, customer_standards, rep_attainment, visit_facts
from keqing.grading.grades import STRATEGY, grade_customers, vip_terminals
from keqing.grading.history import apply_changes, grade_movements, history_changes
from keqing.grading.periods import Periods
from keqing.grading.targets import due_today, orphan_customers, visit_targets

__all__ = [
    "STRATEGY",
    "Periods",
    "VisitFacts",
    "apply_changes",
    "customer_standards",
    "due_today",
    "grade_customers",
    "grade_movements",
    "history_changes",
    "orphan_customers",
    "rep_attainment",
    "vip_terminals",
    "visit_facts",
    "visit_targets",
]
