"""The release rules as data: rule sets (``ruleset``), the kinds of evidence they ask for
(``kinds``, one module each) and the bundled rule set (``default.yaml``). The engine that applies
them is ``streams/engine``. No Kafka, ClickHouse, clock or metrics here."""

from streams.rules.ruleset import (
    DEFAULT_RULESET,
    RuleSet,
    RuleSetError,
    load_ruleset,
    parse_ruleset,
)

__all__ = ["DEFAULT_RULESET", "RuleSet", "RuleSetError", "load_ruleset", "parse_ruleset"]
