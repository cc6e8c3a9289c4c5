"""Ingestion, the pure part: raw bytes from a raw topic in; a canonical event or a rejection out.

Checks, in order: size, JSON and schema (pydantic, including resident-ID checksums and impossible
values such as a NAT sampled after the entry), event time not beyond ``now`` + tolerance. Accepted
events leave with every resident ID replaced by a pseudonym and every phone number dropped.
Rejection messages name fields and rules, never the offending values (they may be personal data).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas import GateHeartbeat, RawVehicleEntry, RiskAreaUpdate, VehicleEntry, VehicleExit
from streams.pseudonym import Pseudonymiser
from streams.topics import RAW_TO_CANONICAL, spec

PERSONAL_FIELDS = {"id_number", "phone"}


@dataclass(frozen=True)
class Accepted:
    topic: str  # canonical topic, without prefix
    key: bytes
    value: bytes  # canonical JSON
    event_id: str
    event_time: datetime
    gate: tuple[str, str] | None = None  # (park, gate) of a gate event: entry, exit, heartbeat


@dataclass(frozen=True)
class Rejected:
    error_class: str
    error_message: str
    schema_version: int = 1


class Ingestor:
    def __init__(
        self,
        pseudonymise: Pseudonymiser,
        *,
        max_message_bytes: int,
        future_tolerance: timedelta,
    ) -> None:
        self._pseudonymise = pseudonymise
        self._max_bytes = max_message_bytes
        self._tolerance = future_tolerance

    def ingest(self, source: str, raw: bytes, now: datetime) -> Accepted | Rejected:
        """``source`` is the raw topic's catalogue name (no prefix); ``now`` the wall clock."""
        if len(raw) > self._max_bytes:
            return Rejected(
                "MessageTooLarge", f"{len(raw)} bytes; the limit is {self._max_bytes} bytes"
            )
        model = spec(source).model
        assert model is not None, f"{source} is not a raw event topic"
        try:
            # Strict: "yes" is not a boolean and "5" not a number, whatever lax parsing would allow.
            event: Any = model.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            return Rejected("ValidationError", describe(exc))
        if event.event_time > now + self._tolerance:
            return Rejected(
                "EventTimeInFuture",
                f"event_time is more than {self._tolerance} ahead of the receiving clock",
            )
        target = RAW_TO_CANONICAL[source]
        canonical = self.canonical(event, spec(target).model)
        gated = isinstance(canonical, VehicleEntry | VehicleExit | GateHeartbeat)
        return Accepted(
            topic=target,
            key=self._key(canonical),
            value=canonical.model_dump_json().encode(),
            event_id=event.event_id,
            event_time=event.event_time,
            gate=(canonical.park, canonical.gate) if gated else None,  # type: ignore[attr-defined]
        )

    def canonical(self, event: BaseModel, target: type[BaseModel] | None) -> BaseModel:
        """The event as ``target`` (the canonical topic's model, from the catalogue): resident
        IDs pseudonymised, phone numbers dropped."""
        if target is None or isinstance(event, target):
            return event  # exits, heartbeats and risk areas carry no personal data
        if isinstance(event, RawVehicleEntry):
            fields = event.model_dump(exclude={"occupants"})
            fields["occupants"] = [self._person_fields(o) for o in event.occupants]
            return target.model_validate(fields)
        return target.model_validate(self._person_fields(event))

    def _person_fields(self, event: Any) -> dict[str, Any]:
        fields: dict[str, Any] = event.model_dump(exclude=PERSONAL_FIELDS)
        fields["person"] = self._pseudonymise(event.id_number)
        return fields

    @staticmethod
    def _key(event: Any) -> bytes:
        if isinstance(event, VehicleEntry | VehicleExit):
            return str(event.plate).encode()
        if isinstance(event, RiskAreaUpdate):
            return event.region.encode()
        if isinstance(event, GateHeartbeat):
            return event.gate.encode()
        return str(event.person).encode()


def describe(exc: ValidationError) -> str:
    """Where and why validation failed: field paths and messages, never the input values."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "<message>"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)[:1000]


class BadShareGuard:
    """Trips when more than ``max_share`` of the last ``window`` messages were bad.

    A worker stops on it rather than dead-lettering a whole topic of garbage (a producer pointed at
    the wrong topic, a changed format): the fix belongs upstream, not in the DLQ.
    """

    def __init__(self, *, window: int, max_share: float, min_messages: int) -> None:
        self._recent: deque[bool] = deque(maxlen=window)
        self._bad = 0
        self._max_share = max_share
        self._min = min_messages

    def record(self, bad: bool) -> bool:
        """Count one message; return True when the guard trips."""
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._bad -= 1
        self._recent.append(bad)
        self._bad += bad
        return len(self._recent) >= self._min and self.share > self._max_share

    @property
    def bad(self) -> int:
        return self._bad

    @property
    def seen(self) -> int:
        return len(self._recent)

    @property
    def share(self) -> float:
        return self._bad / len(self._recent) if self._recent else 0.0
