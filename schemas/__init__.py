"""Event models, validated at the edge: the one definition of every event the pipeline sees.

``Raw*`` models are what producers send (they hold personal data); the plain models are what
ingestion passes on (pseudonyms only). JSON Schema files for other producers are generated from
these models into ``schemas/json/`` by ``sentinel schemas write``.
"""

from schemas._base import Event
from schemas.alert import Alert, Severity
from schemas.dead_letter import DeadLetter
from schemas.decision import (
    OUTCOME_ORDER,
    Decision,
    EvidenceRef,
    OccupantOutcome,
    Outcome,
    RuleResult,
    Status,
    worst,
)
from schemas.entry import (
    Cargo,
    GateHeartbeat,
    Occupant,
    RawOccupant,
    RawVehicleEntry,
    VehicleEntry,
    VehicleExit,
)
from schemas.health import (
    AntigenTest,
    HealthVisit,
    NatReport,
    RawAntigenTest,
    RawHealthVisit,
    RawNatReport,
)
from schemas.reference import RiskAreaUpdate

__all__ = [
    "OUTCOME_ORDER",
    "Alert",
    "AntigenTest",
    "Cargo",
    "DeadLetter",
    "Decision",
    "Event",
    "EvidenceRef",
    "GateHeartbeat",
    "HealthVisit",
    "NatReport",
    "Occupant",
    "OccupantOutcome",
    "Outcome",
    "RawAntigenTest",
    "RawHealthVisit",
    "RawNatReport",
    "RawOccupant",
    "RawVehicleEntry",
    "RiskAreaUpdate",
    "RuleResult",
    "Severity",
    "Status",
    "VehicleEntry",
    "VehicleExit",
    "worst",
]
