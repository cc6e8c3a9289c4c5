"""Rule sets: the park's rules as data (the bundled ``default.yaml`` beside this module, or a
file published with ``sentinel rules publish``), validated with line numbers.

A rule names the evidence it checks (a kind in ``streams/rules/kinds``), a window, the subjects it
applies to, and the outcome on failure. Changing "48h" to "24h" is a new file and a
``sentinel rules publish``, never a deploy. Every decision names the rule set's version and the
hash of its text, so it resolves to the exact rules that made it (ClickHouse table ``rulesets``).
"""

from __future__ import annotations

import hashlib
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

from streams.rules.kinds import KINDS
from streams.rules.kinds.base import Severity, Subjects

DEFAULT_RULESET = Path(__file__).with_name("default.yaml")

Outcome = Literal["release", "hold", "deny"]
PERSON_SUBJECTS = {"all_occupants", "hazmat_crew", "out_of_area_drivers"}
OPTIONS = ("grace", "minimum", "remedy")  # rule fields only some kinds read

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
    evidence: Literal[tuple(KINDS)]  # type: ignore[valid-type]
    window: Duration | None = None
    grace: Duration | None = None
    minimum: int = Field(1, ge=1)
    subjects: Subjects
    on_failure: Outcome
    severity: Severity
    alert: bool = False
    remedy: Literal["antigen_negative"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _options_read_by_the_kind(cls, data: Any) -> Any:
        kind = KINDS.get(data.get("evidence", "")) if isinstance(data, dict) else None
        if kind is not None:
            for option in OPTIONS:
                if option in data and option not in kind.options:
                    raise ValueError(f"evidence {kind.name} does not read {option}; remove it")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        kind = KINDS[self.evidence]
        if (kind.subject == "person") != (self.subjects in PERSON_SUBJECTS):
            whom = "people" if kind.subject == "person" else "vehicles"
            raise ValueError(f"evidence {self.evidence} is judged for {whom}: subjects do not fit")
        if kind.needs_window and self.window is None:
            raise ValueError(f"evidence {self.evidence} needs a window, e.g. window: 48h")
        return self


class Tracing(BaseModel):
    """How far contact tracing looks (DOMAIN rule 15): the person's entries over ``lookback``
    before the positive, and the vehicles through the same gate within ``same_gate`` of each."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback: Duration = timedelta(days=14)
    same_gate: Duration = timedelta(minutes=30)


class RuleSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1, max_length=64, pattern=r"^[\w.:\-]+$")
    # What "daily" means (the rollups, the report, the board). Every park's day is Shanghai's
    # today (streams/parktime.py): another value is refused rather than silently not followed.
    timezone: Literal["Asia/Shanghai"] = "Asia/Shanghai"
    local_regions: tuple[str, ...] = ()
    lateness: Duration = timedelta(minutes=10)
    tracing: Tracing = Tracing()
    rules: tuple[Rule, ...] = Field(min_length=1)
    # Not part of the file: its text and that text's hash, set by parse_ruleset.
    text: str = Field("", exclude=True, repr=False)
    content_hash: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicates)}")
        for name, kind in KINDS.items():
            several = [r.id for r in self.rules if r.evidence == name]
            if len(several) > 1 and not kind.several:
                raise ValueError(
                    f"rules {', '.join(several)} are all of evidence {name}, which takes one "
                    "rule: merge them"
                )
        return self

    @cached_property
    def kind_index(self) -> dict[str, tuple[Rule, ...]]:
        """Rules by evidence kind, in file order: the engine asks for them on every event."""
        index: dict[str, tuple[Rule, ...]] = {}
        for rule in self.rules:
            index[rule.evidence] = (*index.get(rule.evidence, ()), rule)
        return index

    def of_kind(self, evidence: str) -> tuple[Rule, ...]:
        return self.kind_index.get(evidence, ())

    def clock_rule(self, evidence: str) -> Rule | None:
        """The rule of a kind that takes one (``Kind.several`` False), if the set has it."""
        assert not KINDS[evidence].several, f"{evidence} may have several rules"
        rules = self.kind_index.get(evidence)
        return rules[0] if rules else None

    @cached_property
    def person_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if KINDS[r.evidence].subject == "person")

    @cached_property
    def vehicle_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if KINDS[r.evidence].subject == "vehicle")

    def is_local(self, region: str) -> bool:
        return any(region.startswith(local) for local in self.local_regions)


class RuleSetError(Exception):
    """A rule set file is wrong; the message lists each problem as FILE:LINE: field: what."""


def load_ruleset(path: Path) -> RuleSet:
    return parse_ruleset(path.read_text(encoding="utf-8"), str(path))


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    for private in ("text", "content_hash"):
        data.pop(private, None)
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
            line = _line_of(root, loc)
            field = ".".join(str(p) for p in loc) or "<top>"
            problems.append(f"{name}:{line}: {field}: {err['msg']}")
        raise RuleSetError("\n".join(problems)) from None
    return rules.model_copy(update={"text": text, "content_hash": content_hash(text)})


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
