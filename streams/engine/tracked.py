"""What a park keeps of each entry (:class:`Tracked`) and of each visit, and how long it keeps
things: the constants every room of the engine measures its horizons by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from schemas import Alert, VehicleEntry
from schemas.decision import Outcome, ResolutionRef
from streams.rules.kinds import Ref, Result
from streams.rules.kinds.visits import Obligation
from streams.rules.ruleset import RuleSet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RECHECK = timedelta(days=3)  # new evidence judges again the entries this recent (by anchor)
ENTRY_RETENTION = timedelta(days=14)  # kept whole this long after the anchor: tracing reads them
FORGET_AFTER = timedelta(days=60)  # a forgotten entry's id, so that a replay of it changes nothing
NEGATIVE_RETENTION = timedelta(days=4)  # a negative antigen matters around its crossing only
POSITIVE_RETENTION = timedelta(days=17)  # the no_positive window and RECHECK
VISIT_RETENTION = timedelta(days=8)  # longer than any visit window
EARLY_EXIT_RETENTION = timedelta(days=2)  # an exit read before its entry waits this long


class Entity(StrEnum):
    """What a park keeps, by kind: each entity one changelog record, keyed ``<kind>:<id>``
    (:meth:`of`); written and read back by ``streams/engine/records.py``."""

    ENTRY = "e"
    ANTIGEN = "a"  # an on-site antigen result
    VISIT = "v"  # a health visit
    EARLY_EXIT = "x"  # an exit read before its entry
    FORGOTTEN = "f"  # a forgotten entry's id
    CLOCKS = "c"  # the park's clock, antigen clock and watermark (one record, no id)

    def of(self, ident: str = "") -> str:
        """The entity's key."""
        return self + ":" + ident


@dataclass(slots=True)
class Visit:
    event_id: str
    person: str
    time: datetime
    entry_id: str | None
    served: str | None = None  # the entry whose obligation it counted for


@dataclass(slots=True, eq=False)
class Tracked:
    """An entry the park keeps: its last decision, alerts and clocks."""

    entry: VehicleEntry
    ref: Ref
    anchor: datetime  # deadlines run from here: its time, or its arrival when it came late
    late: bool = False
    revision: int = -1
    fingerprint: str = ""
    outcome: Outcome | None = None
    released: bool = False  # let in at some revision (dwell and visits start then)
    exited: datetime | None = None
    alerts: dict[str, Alert] = field(default_factory=dict)  # by dedup key, kept whole
    obligation: Obligation | None = None
    resolution: ResolutionRef | None = None
    not_passed: tuple[str, ...] = ()  # the ids of the rules that did not pass, last judged
    json: str | None = None  # the entry's canonical JSON, made once for its changelog records
    # The last results, kept to judge again only what an input can change (not in the
    # changelog: after a restore the first judging is whole).
    judged_with: str = ""  # the content hash of the rule set they were judged with
    vehicle_results: tuple[Result, ...] = ()
    by_person: dict[str, tuple[Result, ...]] = field(default_factory=dict)
    keys: tuple[tuple[str, ...], ...] = ()
    waiting: bool = False  # a result of its last decision was pending (kept in the changelog)
    _area: tuple[str, bool] = ("", False)

    def entry_json(self) -> str:
        if self.json is None:
            self.json = self.entry.model_dump_json(exclude_defaults=True)
        return self.json

    @property
    def resolved(self) -> bool:
        return self.resolution is not None

    @property
    def crew(self) -> list[str]:
        """Everyone in the vehicle, by pseudonym."""
        return [o.person for o in self.entry.occupants]

    def out_of_area(self, rules: RuleSet) -> bool:
        """Whether its origin is out of the park's area (cached per rule set)."""
        if self._area[0] != rules.content_hash:
            self._area = (rules.content_hash, not rules.is_local(self.entry.origin_region))
        return self._area[1]

    @property
    def pending(self) -> bool:
        """Whether a result of its last decision waits on something (the clock, evidence read
        too late): only then can the clock change it."""
        return self.waiting

    def alerted(self, key: str) -> bool:
        return key in self.alerts


def retention(result: str) -> timedelta:
    """How long an on-site antigen result is kept, by its result."""
    return POSITIVE_RETENTION if result == "positive" else NEGATIVE_RETENTION
