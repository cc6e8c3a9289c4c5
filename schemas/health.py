"""Health evidence: on-site antigen tests (``health.antigen``, key park), lab NAT reports
(``health.nat``, key: the resident ID number as presented; a lab knows no park) and health visits
by the consignee enterprise (``health.visits``, key: the enterprise's park).

``Raw*`` models carry the resident ID number; the plain models carry the pseudonym instead.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas._base import Event, EventTime, Frozen, Name
from schemas.entry import TestResult
from schemas.people import Phone, Pseudonym, ResidentId


class _Identified(Frozen):
    id_number: ResidentId
    phone: Phone | None = None


class _Pseudonymous(Frozen):
    person: Pseudonym


class _AntigenFields(Event):
    """``event_time`` is when the result was read."""

    park: str = Name
    site: str = Field(min_length=1, max_length=64, description="gate or test site")
    result: TestResult


class _NatFields(Event):
    """``event_time`` is when the lab reported; validity runs from ``sample_time``."""

    sample_time: EventTime
    result: TestResult
    lab: str = Name

    @model_validator(mode="after")
    def _sampled_before_report(self) -> _NatFields:
        if self.sample_time > self.event_time:
            raise ValueError("NAT sample time is after its report time")
        return self


class _VisitFields(Event):
    park: str = Field(
        min_length=1, max_length=64, description="the park of the visiting (consignee) enterprise"
    )
    enterprise: str = Name
    entry_id: str | None = Field(
        None, max_length=128, description="the entry whose visit obligation this serves"
    )
    visit_number: int = Field(ge=1, le=10)
    temperature_c: float = Field(ge=34.0, le=43.0)
    symptoms: bool = False
    outcome: str = Field("normal", pattern=r"^(normal|referred|unreachable)$")


class RawAntigenTest(_AntigenFields, _Identified):
    pass


class AntigenTest(_AntigenFields, _Pseudonymous):
    pass


class RawNatReport(_NatFields, _Identified):
    pass


class NatReport(_NatFields, _Pseudonymous):
    pass


class RawHealthVisit(_VisitFields, _Identified):
    pass


class HealthVisit(_VisitFields, _Pseudonymous):
    pass
