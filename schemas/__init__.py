"""Event models, validated at the edge: the one definition of every event the pipeline sees."""

from schemas._base import Event
from schemas.decision import OUTCOME_ORDER, Decision, Outcome, RuleResult
from schemas.entry import Occupant, VehicleEntry

__all__ = [
    "OUTCOME_ORDER",
    "Decision",
    "Event",
    "Occupant",
    "Outcome",
    "RuleResult",
    "VehicleEntry",
]
