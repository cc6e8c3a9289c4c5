"""Scenario ``jinshan-2022``: Tangu Green Bay park, 1 April to 9 May 2022, and the incidents.

``generate(seed)`` returns every raw event, in event-time order, and the ground truth it knows:
the same seed gives the same events, byte for byte.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from schemas import (
    Cargo,
    GateHeartbeat,
    RawAntigenTest,
    RawHealthVisit,
    RawNatReport,
    RawOccupant,
    RawVehicleEntry,
    VehicleExit,
)
from schemas.entry import Role
from streams.parktime import PARK_TZ
from streams.settings import Settings
from streams.words import Language
from workbench.simulator.identities import (
    CARGOES,
    LOCAL_REGION,
    OTHER_REGIONS,
    Person,
    person,
    plate,
)
from workbench.simulator.traffic import DAYS, FIRST_DAY, daily_counts, dwell_hours, hour_counts

TZ = PARK_TZ
PARK = "tangu-green-bay"
LANGUAGE: Language = "zh"  # the park's officers read Chinese
HAZMAT_GATES = ("jinshanwei-1", "jinshanwei-2", "tinglin-1")
GENERAL_GATES = ("caolang-1", "caolang-2")
HEARTBEATS_AFTER = timedelta(days=8)  # longer than the 7-day visit window
ENTERPRISES = tuple(f"ent-{n:03d}" for n in range(1, 90))  # the park's 89 chemical companies
FLEET = 3000
BUS_TIME = datetime(2022, 4, 14, 10, 20, tzinfo=TZ)
BUS_SECOND_GATE_AFTER = timedelta(hours=2, minutes=40)
BUS_OCCUPANTS = 27
UNKNOWN_PERSON_TIME = datetime(2022, 4, 20, 9, 5, tzinfo=TZ)


def _hours(hours: float) -> timedelta:
    """A duration in whole seconds: event times carry no fractions of a second."""
    return timedelta(seconds=round(hours * 3600))


@dataclass(frozen=True)
class Params:
    seed: int = 1
    hazmat_share: float = 0.55
    out_of_area_share: float = 0.65
    expired_nat_share: float = 0.004
    missed_visit_share: float = 0.05
    dwell_violator_share: float = 0.01
    positive_rate: float = 0.0  # the real period had none; raise it for stress runs


@dataclass
class Vehicle:
    plate: str
    hazmat: bool
    region: tuple[str, str]
    driver: Person
    escort: Person | None
    free_from: datetime = datetime(2000, 1, 1, tzinfo=TZ)

    @property
    def out_of_area(self) -> bool:
        return self.region != LOCAL_REGION


@dataclass
class Scenario:
    params: Params
    events: list[tuple[str, BaseModel]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)


class _Builder:
    def __init__(self, params: Params) -> None:
        self.p = params
        self.rng = random.Random(params.seed)
        self.events: list[tuple[str, BaseModel]] = []
        self.ids: Counter[str] = Counter()
        self.expired: list[str] = []
        self.positives: list[str] = []
        self.obligations = 0
        self.overdue: list[str] = []
        self.dwell_violations = 0
        self.fleet = [self._vehicle() for _ in range(FLEET)]

    def next_id(self, kind: str) -> str:
        self.ids[kind] += 1
        return f"{kind}-{self.p.seed}-{self.ids[kind]:06d}"

    def _vehicle(self) -> Vehicle:
        hazmat = self.rng.random() < self.p.hazmat_share
        out = self.rng.random() < self.p.out_of_area_share
        region = self.rng.choice(OTHER_REGIONS) if out else LOCAL_REGION
        return Vehicle(
            plate=plate(self.rng),
            hazmat=hazmat,
            region=region,
            driver=person(self.rng, region[0]),
            escort=person(self.rng, region[0]) if hazmat else None,
        )

    def free_vehicle(self, at: datetime) -> Vehicle:
        while True:
            vehicle = self.rng.choice(self.fleet)
            if vehicle.free_from <= at:
                return vehicle

    def occupant(
        self,
        who: Person,
        role: Role,
        at: datetime,
        *,
        nat_age_h: float | None,
        on_roster: bool = True,
    ) -> RawOccupant:
        """An occupant presenting a NAT sampled ``nat_age_h`` hours ago (and its lab report)."""
        sampled = None
        if nat_age_h is not None:
            sampled = at - _hours(nat_age_h)
            reported = min(sampled + _hours(self.rng.uniform(5, 10)), at - timedelta(minutes=5))
            self.emit(
                "health.nat",
                RawNatReport(
                    event_id=self.next_id("nat"),
                    event_time=reported,
                    id_number=who.id_number,
                    phone=who.phone,
                    sample_time=sampled,
                    result="negative",
                    lab=self.rng.choice(("jinshan-cdc", "kingmed-sh", "dian-sh")),
                ),
            )
        return RawOccupant(
            id_number=who.id_number,
            phone=who.phone,
            role=role,
            nat_sample_time=sampled,
            nat_result="negative" if sampled else None,
            code_colour="green",  # the gate scans every code (the story had no red or yellow)
            on_roster=on_roster,
        )

    def antigen(self, who: Person, at: datetime, gate: str, positive: bool) -> None:
        self.emit(
            "health.antigen",
            RawAntigenTest(
                event_id=self.next_id("antigen"),
                event_time=at,
                id_number=who.id_number,
                park=PARK,
                site=gate,
                result="positive" if positive else "negative",
            ),
        )
        if positive:
            self.positives.append(who.id_number)

    def heartbeats(self) -> None:
        """Every gate's clock, hourly, from the first midnight until every visit window of the
        story has closed (last event + HEARTBEATS_AFTER): deadlines then fire in a live run too."""
        last = max(e.event_time for _, e in self.events)  # type: ignore[attr-defined]
        at = datetime.combine(FIRST_DAY, datetime.min.time(), TZ)
        while at <= last + HEARTBEATS_AFTER:
            for gate in (*HAZMAT_GATES, *GENERAL_GATES):
                beat = GateHeartbeat(
                    event_id=self.next_id(f"beat-{gate}"), event_time=at, park=PARK, gate=gate
                )
                self.emit("gate.heartbeats", beat)
            at += timedelta(hours=1)

    def emit(self, topic: str, event: BaseModel) -> None:
        self.events.append((topic, event))

    def truck_entry(self, vehicle: Vehicle, at: datetime, *, unknown_escort: bool = False) -> str:
        entry_id = self.next_id("entry")
        gate = self.rng.choice(HAZMAT_GATES if vehicle.hazmat else GENERAL_GATES)
        expired = self.rng.random() < self.p.expired_nat_share
        crew: list[tuple[Person, Role]] = [(vehicle.driver, "driver")]
        if vehicle.escort is not None:
            crew.append((vehicle.escort, "escort"))
        occupants = []
        for index, (who, role) in enumerate(crew):
            age = self.rng.uniform(49, 70) if expired and index == 0 else self.rng.uniform(8, 44)
            on_roster = not (unknown_escort and role == "escort")
            occupants.append(self.occupant(who, role, at, nat_age_h=age, on_roster=on_roster))
        if expired:
            self.expired.append(entry_id)
        serial = self.ids["entry"]
        cargo = None
        if vehicle.hazmat:
            un, hazard_class = self.rng.choice(CARGOES)
            cargo = Cargo(
                un_number=un,
                hazard_class=hazard_class,
                quantity_kg=self.rng.randrange(5, 31) * 1000,
            )
        consignee = self.rng.choice(ENTERPRISES)
        self.emit(
            "gate.entries",
            RawVehicleEntry(
                event_id=entry_id,
                event_time=at,
                park=PARK,
                gate=gate,
                gate_class="hazmat" if vehicle.hazmat else "general",
                plate=vehicle.plate,
                vehicle_class="tanker" if vehicle.hazmat else "truck",
                hazmat=vehicle.hazmat,
                cargo=cargo,
                consignee=consignee,
                origin_region=vehicle.region[1],
                pass_id=f"pass-{self.p.seed}-{serial:06d}" if vehicle.out_of_area else None,
                waybill_id=f"wb-{self.p.seed}-{serial:06d}" if vehicle.hazmat else None,
                appointment_id=f"appt-{self.p.seed}-{serial:06d}" if vehicle.hazmat else None,
                occupants=tuple(occupants),
            ),
        )
        # On-site antigen, read a few minutes later: the hazmat crew always; on any vehicle, an
        # occupant without a valid NAT (held: "test on site").
        tested = crew if vehicle.hazmat else crew[:1] if expired else []
        for who, _ in tested:
            positive = self.rng.random() < self.p.positive_rate
            self.antigen(who, at + _hours(self.rng.uniform(3, 15) / 60), gate, positive)
        violator = self.rng.random() < self.p.dwell_violator_share
        self.dwell_violations += violator and vehicle.hazmat  # the cap is for hazmat trucks
        left = at + _hours(dwell_hours(self.rng, violator))
        self.emit(
            "gate.exits",
            VehicleExit(
                event_id=self.next_id("exit"),
                event_time=left,
                park=PARK,
                gate=gate,
                plate=vehicle.plate,
                entry_id=entry_id,
            ),
        )
        vehicle.free_from = left + timedelta(hours=30)  # no vehicle returns within a day
        if vehicle.out_of_area:
            self.visits(vehicle.driver, entry_id, consignee, at)
        return entry_id

    def visits(self, driver: Person, entry_id: str, enterprise: str, at: datetime) -> None:
        """The consignee's health visits: usually 3 (sometimes 2) within 7 days; a few missed."""
        self.obligations += 1
        if self.rng.random() < self.p.missed_visit_share:
            count = self.rng.choice((0, 1))
            self.overdue.append(entry_id)
        else:
            count = 3 if self.rng.random() < 0.7 else 2
        days = sorted(self.rng.uniform(0.5, 6.9) for _ in range(count))
        for number, day in enumerate(days, start=1):
            self.emit(
                "health.visits",
                RawHealthVisit(
                    event_id=self.next_id("visit"),
                    event_time=at + _hours(day * 24),
                    id_number=driver.id_number,
                    park=PARK,
                    enterprise=enterprise,
                    entry_id=entry_id,
                    visit_number=number,
                    temperature_c=round(self.rng.uniform(36.0, 37.2), 1),
                ),
            )

    def bus(self) -> dict[str, Any]:
        """The 27-passenger car: one passenger without a NAT in 48 h tests positive on site; the
        car then tries another gate."""
        region = ("330482", "浙江省平湖市")
        people = [person(self.rng, region[0]) for _ in range(BUS_OCCUPANTS)]
        bus_plate = plate(self.rng)
        lacking = 13
        entries = []
        for attempt, (at, gate) in enumerate(
            ((BUS_TIME, GENERAL_GATES[0]), (BUS_TIME + BUS_SECOND_GATE_AFTER, GENERAL_GATES[1]))
        ):
            occupants = tuple(
                self.occupant(
                    who,
                    "driver" if i == 0 else "passenger",
                    at,
                    nat_age_h=None if i == lacking else self.rng.uniform(10, 40),
                )
                if attempt == 0
                else RawOccupant(
                    id_number=who.id_number,
                    role="driver" if i == 0 else "passenger",
                    nat_sample_time=None,
                    code_colour="green",
                    on_roster=True,
                )
                for i, who in enumerate(people)
            )
            entry_id = self.next_id("entry")
            entries.append(entry_id)
            self.emit(
                "gate.entries",
                RawVehicleEntry(
                    event_id=entry_id,
                    event_time=at,
                    park=PARK,
                    gate=gate,
                    gate_class="general",
                    plate=bus_plate,
                    vehicle_class="bus",
                    hazmat=False,
                    origin_region=region[1],
                    occupants=occupants,
                ),
            )
            if attempt == 0:  # one failing occupant: everyone on board is tested
                for i, who in enumerate(people):
                    read = at + timedelta(minutes=12, seconds=30 * i)
                    self.antigen(who, read, gate, positive=i == lacking)
        return {
            "plate": bus_plate,
            "entry_ids": entries,
            "gates": list(GENERAL_GATES),
            "occupants": BUS_OCCUPANTS,
            "positives": 1,
            # Both scans are denied (a positive on board, then the same car at another gate);
            # both lack NATs (one passenger, then everyone) and a pass (a bus has none).
            "denied_by_rule": {"nat_48h": 2, "no_positive": 2, "pass": 2, "evasion": 1},
        }


def generate(params: Params) -> Scenario:
    builder = _Builder(params)
    counts = daily_counts(builder.rng)
    bus_day = (BUS_TIME.date() - FIRST_DAY).days
    unknown_day = (UNKNOWN_PERSON_TIME.date() - FIRST_DAY).days
    incidents: dict[str, Any] = {}
    for day, count in enumerate(counts):
        midnight = datetime.combine(FIRST_DAY + _hours(day * 24), datetime.min.time(), TZ)
        if day == bus_day:
            incidents["bus"] = builder.bus()
            count -= 2  # the bus's two gate scans are among the day's entries
        if day == unknown_day:
            vehicle = next(
                v for v in builder.fleet if v.hazmat and v.free_from <= UNKNOWN_PERSON_TIME
            )
            entry_id = builder.truck_entry(vehicle, UNKNOWN_PERSON_TIME, unknown_escort=True)
            incidents["unknown_person"] = {"entry_id": entry_id, "plate": vehicle.plate}
            count -= 1
        for hour, n in enumerate(hour_counts(builder.rng, count)):
            for second in sorted(builder.rng.randrange(3600) for _ in range(n)):
                at = midnight + timedelta(hours=hour, seconds=second)
                builder.truck_entry(builder.free_vehicle(at), at)
    builder.heartbeats()
    events = sorted(builder.events, key=lambda te: te[1].event_time)  # type: ignore[attr-defined]
    by_topic = Counter(topic for topic, _ in events)
    peak_day = counts.index(max(counts))
    truth = {
        "scenario": "jinshan-2022",
        "params": params.__dict__,
        "total_entries": sum(counts),
        "entries_by_day": {str(FIRST_DAY + timedelta(days=d)): n for d, n in enumerate(counts)},
        "peak_date": str(FIRST_DAY + timedelta(days=peak_day)),
        "peak_entries": counts[peak_day],
        "days": DAYS,
        "events_by_topic": dict(sorted(by_topic.items())),
        "hazmat_entries": sum(isinstance(e, RawVehicleEntry) and e.hazmat for _, e in events),
        "expired_nat_entries": len(builder.expired),
        "expired_nat_entry_ids": builder.expired,
        # Rule ids of deploy/rules/default.yaml. A hold counts the entries a rule failed for
        # and that were not denied (an expired NAT is held, then released on a negative
        # antigen test; the unknown escort is held for the roster check).
        "holds_by_rule": {"nat_48h": len(builder.expired), "on_roster": 1},
        "denials_by_rule": incidents["bus"]["denied_by_rule"],
        "positives": len(builder.positives),
        "visit_obligations": builder.obligations,
        "overdue_visits": len(builder.overdue),
        "overdue_visit_entry_ids": builder.overdue,
        "dwell_violations": builder.dwell_violations,
        "incidents": incidents,
    }
    return Scenario(params=params, events=events, truth=truth)


def in_park_language(settings: Settings) -> Settings:
    """The settings a worker runs this story with: in its park's language, unless
    SENTINEL_LANGUAGE says otherwise."""
    if "language" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"language": LANGUAGE})
