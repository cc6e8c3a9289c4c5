"""Ingestion, the pure part: raw bytes from a raw topic in; a canonical event or a rejection out.

Checks, in order: a value at all, its size, UTF-8 JSON and the schema (pydantic, strict:
resident-ID checksums, impossible values such as a NAT sampled after the entry, a schema version
this pipeline knows), event times within a sane range (not before ``earliest``, not beyond
``now`` + tolerance). Accepted events leave with every resident ID replaced by a pseudonym and
every phone number dropped, validated once: the canonical event is built from the validated raw
one, not parsed again, and refused if a field other than those holds what looks like a resident
ID or a phone number. Rejection messages name fields and rules, never the offending values (they
may be personal data).
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas import (
    AntigenTest,
    HealthVisit,
    NatReport,
    Occupant,
    RawAntigenTest,
    RawHealthVisit,
    RawNatReport,
    RawVehicleEntry,
    RiskAreaUpdate,
    VehicleEntry,
)
from streams.pseudonym import Pseudonymiser
from streams.topics import RAW_TO_CANONICAL, spec

PERSONAL_FIELDS = {"id_number", "phone"}
SCHEMA_VERSIONS = {1}
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Accepted:
    topic: str | None  # canonical topic, without prefix (None: it only moves a clock)
    key: bytes  # its key there: the park, the person's pseudonym, the region
    event: Any  # the canonical event (a pydantic model, validated at the edge)
    event_id: str
    event_time: datetime
    park: str | None = None  # the park it belongs to, when it belongs to one
    value: bytes = b""  # its canonical JSON


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
        earliest: datetime = EARLIEST,
    ) -> None:
        self._pseudonymise = pseudonymise
        self._max_bytes = max_message_bytes
        self._tolerance = future_tolerance
        self._earliest = earliest

    def ingest(self, source: str, raw: bytes | None, now: datetime) -> Accepted | Rejected:
        """``source`` is the raw topic's catalogue name (no prefix); ``now`` the wall clock."""
        if raw is None:
            return Rejected("NullValue", "the record has no value (a tombstone?); send an event")
        if len(raw) > self._max_bytes:
            return Rejected(
                "MessageTooLarge", f"{len(raw)} bytes; the limit is {self._max_bytes} bytes"
            )
        model = spec(source).model
        assert model is not None, f"{source} is not a raw event topic"
        try:
            # Strict: "yes" is not a boolean and "5" not a number, whatever lax parsing allows.
            event: Any = model.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            version = _schema_version(raw)
            if version is not None and version not in SCHEMA_VERSIONS:
                return Rejected(
                    "UnknownSchemaVersion",
                    f"schema_version {version} is not one this pipeline reads "
                    f"({', '.join(map(str, sorted(SCHEMA_VERSIONS)))}); upgrade the workers first",
                    version,
                )
            return Rejected("ValidationError", describe(exc))
        times = [event.event_time, *_other_times(event)]
        if min(times) < self._earliest:
            return Rejected(
                "EventTimeTooEarly",
                f"a time is before {self._earliest:%Y-%m-%d}: a typing error upstream?",
            )
        if event.event_time > now + self._tolerance:
            return Rejected(
                "EventTimeInFuture",
                f"event_time is more than {self._tolerance} ahead of the receiving clock",
            )
        target = RAW_TO_CANONICAL[source]
        canonical = self.canonical(event)
        value = canonical.model_dump_json().encode()
        if (where := _personal_data_in(value)) is not None:
            return Rejected(
                "PersonalDataInField",
                f"{_field_holding(canonical, where)} holds what looks like a resident ID or phone "
                "number; only id_number and phone may, and they never leave ingestion",
            )
        return Accepted(
            topic=target,
            key=self._key(canonical),
            event=canonical,
            event_id=event.event_id,
            event_time=event.event_time,
            park=getattr(canonical, "park", None),
            value=value,
        )

    def canonical(self, event: BaseModel) -> BaseModel:
        """The event as it leaves ingestion: resident IDs pseudonymised, phone numbers dropped.
        Built from the validated raw event, without validating again."""
        if isinstance(event, RawVehicleEntry):
            fields = {name: event.__dict__[name] for name in _ENTRY_FIELDS}
            fields["occupants"] = tuple(
                _build(
                    Occupant,
                    {
                        "role": o.role,
                        "nat_sample_time": o.nat_sample_time,
                        "nat_result": o.nat_result,
                        "code_colour": o.code_colour,
                        "on_roster": o.on_roster,
                        "person": self._pseudonymise(o.id_number),
                    },
                )
                for o in event.occupants
            )
            return _build(VehicleEntry, fields)
        target = _CANONICAL_OF.get(type(event))
        if target is None:
            return event  # exits, heartbeats, resolutions, risk areas: no personal data
        fields = {k: v for k, v in event.__dict__.items() if k not in PERSONAL_FIELDS}
        fields["person"] = self._pseudonymise(event.id_number)  # type: ignore[attr-defined]
        return _build(target, fields)

    @staticmethod
    def _key(event: Any) -> bytes:
        if isinstance(event, RiskAreaUpdate):
            return event.region.encode()
        if isinstance(event, NatReport):
            return event.person.encode()
        return str(event.park).encode()


_CANONICAL_OF: dict[type[BaseModel], type[BaseModel]] = {
    RawAntigenTest: AntigenTest,
    RawNatReport: NatReport,
    RawHealthVisit: HealthVisit,
}
_ENTRY_FIELDS = tuple(name for name in RawVehicleEntry.model_fields if name != "occupants")
M = TypeVar("M", bound=BaseModel)


def _build(model: type[M], fields: dict[str, Any]) -> M:
    """A model from values already validated (every field given): what ``model_construct``
    does, without its per-field work, which is most of ingestion's time otherwise."""
    built = model.__new__(model)
    object.__setattr__(built, "__dict__", fields)
    object.__setattr__(built, "__pydantic_fields_set__", set(fields))
    object.__setattr__(built, "__pydantic_extra__", None)
    object.__setattr__(built, "__pydantic_private__", None)
    return built


def _other_times(event: Any) -> list[datetime]:
    """The event's times besides its event time (a NAT's sample time, occupants' samples)."""
    if isinstance(event, RawNatReport):
        return [event.sample_time]
    if isinstance(event, RawVehicleEntry):
        return [o.nat_sample_time for o in event.occupants if o.nat_sample_time is not None]
    return []


# A resident ID number or a mobile number where neither belongs (an event id made of the driver's
# ID, a phone number in a note); the pseudonyms ingestion puts in are matched first, and skipped.
_PERSONAL = re.compile(
    rb"p_[0-9a-f]{32}"
    rb"|(?<!\d)\d{6}(?:19|20)\d{2}[01]\d[0-3]\d\d{3}[\dX](?!\d)"
    rb"|(?<!\d)1[3-9]\d{9}(?!\d)"
)


_DIGITS = re.compile(rb"\d{11}")  # every ID or phone number _PERSONAL finds holds such a run


def _personal_data_in(value: bytes) -> str | None:
    if _DIGITS.search(value) is None:  # most events: a quarter of the full pattern's time
        return None
    for match in _PERSONAL.finditer(value):
        if not match.group().startswith(b"p_"):
            return match.group().decode()
    return None


def _field_holding(event: BaseModel, found: str) -> str:
    """The path of the field whose value holds ``found`` (named, never shown)."""

    def walk(value: Any, path: str) -> str | None:
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list | tuple):
            items = enumerate(value)
        else:
            return path if found in str(value) else None
        for key, inner in items:
            if (hit := walk(inner, f"{path}.{key}" if path else str(key))) is not None:
                return hit
        return None

    return walk(event.model_dump(mode="json"), "") or "<message>"


def _schema_version(raw: bytes) -> int | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    version = value.get("schema_version") if isinstance(value, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


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
