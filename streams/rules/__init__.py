"""The release rules: pure functions over typed events. No Kafka, ClickHouse, clock or metrics."""

from streams.rules.release import SKELETON_RULESET, decide_entry

__all__ = ["SKELETON_RULESET", "decide_entry"]
