"""Rule sets: the park's rules as data (deploy/rules/*.yaml), validated with line numbers.

A rule names the evidence it checks (a kind the engine implements, see EVIDENCE), a window, the
subjects it applies to, and the outcome on failure. Changing "48h" to "24h" is a new file and a
`sentinel rules publish`, never a deploy.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from streams.settings import REPO_ROOT

DEFAULT_RULESET = REPO_ROOT / "deploy" / "rules" / "default.yaml"

Outcome = Literal["release", "hold", "deny"]
Severity = Literal["critical", "warning", "info"]
Subjects = Literal[
    "all_occupants",
    "hazmat_crew",
    "out_of_area_drivers",
    "vehicle",
    "hazmat_vehicles",
    "out_of_area_vehicles",
]

# Evidence kinds the engine implements, and whether each is judged per person or per vehicle.
EVIDENCE: dict[str, Literal["person", "vehicle"]] = {
    "nat_negative": "person",
    "antigen_negative": "person",
    "code_colour": "person",
    "roster": "person",
    "no_positive": "person",
    "visits": "person",
    "origin_risk": "vehicle",
    "pass_present": "vehicle",
    "appointment_present": "vehicle",
    "hazmat_gate": "vehicle",
    "escort_present": "vehicle",
    "waybill_present": "vehicle",
    "other_gate": "vehicle",
    "exit_in_time": "vehicle",
}
PERSON_SUBJECTS = {"all_occupants", "hazmat_crew", "out_of_area_drivers"}
NEEDS_WINDOW = {"nat_negative", "antigen_negative", "origin_risk", "no_positive", "visits",
                "other_gate", "exit_in_time"}  # fmt: skip

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 30m, 48h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    evidence: Literal[tuple(EVIDENCE)]  # type: ignore[valid-type]
    window: Duration | None = None
    grace: Duration | None = None
    minimum: int = Field(1, ge=1)
    subjects: Subjects
    on_failure: Outcome
    severity: Severity
    alert: bool = False
    remedy: Literal["antigen_negative"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        person_evidence = EVIDENCE[self.evidence] == "person"
        if person_evidence != (self.subjects in PERSON_SUBJECTS):
            kind = "people" if person_evidence else "vehicles"
            raise ValueError(f"evidence {self.evidence} is judged for {kind}: subjects do not fit")
        if self.evidence in NEEDS_WINDOW and self.window is None:
            raise ValueError(f"evidence {self.evidence} needs a window, e.g. window: 48h")
        return self


class RuleSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1, max_length=64, pattern=r"^[\w.:\-]+$")
    timezone: str = "Asia/Shanghai"
    local_regions: tuple[str, ...] = ()
    lateness: Duration = timedelta(minutes=10)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicates)}")
        return self

    @cached_property
    def evidence_index(self) -> dict[str, tuple[Rule, ...]]:
        """Rules by evidence kind, in file order: the stages ask for them on every event."""
        index: dict[str, tuple[Rule, ...]] = {}
        for rule in self.rules:
            index[rule.evidence] = (*index.get(rule.evidence, ()), rule)
        return index

    def by_evidence(self, evidence: str) -> list[Rule]:
        return list(self.evidence_index.get(evidence, ()))

    def one(self, evidence: str) -> Rule | None:
        rules = self.evidence_index.get(evidence)
        return rules[0] if rules else None

    def is_local(self, region: str) -> bool:
        return any(region.startswith(local) for local in self.local_regions)


class RuleSetError(Exception):
    """A rule set file is wrong; the message lists each problem as FILE:LINE: field: what."""


def load_ruleset(path: Path) -> RuleSet:
    return parse_ruleset(path.read_text(encoding="utf-8"), str(path))


def parse_ruleset(text: str, name: str = "<rules>") -> RuleSet:
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise RuleSetError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise RuleSetError(f"{name}:1: a rule set is a mapping with version and rules")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
            line = _line_of(root, loc)
            field = ".".join(str(p) for p in loc) or "<top>"
            problems.append(f"{name}:{line}: {field}: {err['msg']}")
        raise RuleSetError("\n".join(problems)) from None


def _line_of(node: Any, loc: list[Any]) -> int:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            return line
        node, line = child, child.start_mark.line + 1
    return line
