"""The release rules: pure functions over typed events and explicit state.

- ``ruleset``: the rules as data (deploy/rules/*.yaml) and their validation;
- ``person``: stage 2, per person: evidence, checks, visit obligations;
- ``vehicle``: stage 3, per vehicle: vehicle rules, taint, evasion, dwell, decisions;
- ``engine``: both stages in one process (backtest, tests, replay).

No Kafka, ClickHouse, clock or metrics inside: time is the events' time and the watermark.
"""

from streams.rules.engine import Engine
from streams.rules.ruleset import (
    DEFAULT_RULESET,
    RuleSet,
    RuleSetError,
    load_ruleset,
    parse_ruleset,
)

__all__ = ["DEFAULT_RULESET", "Engine", "RuleSet", "RuleSetError", "load_ruleset", "parse_ruleset"]
