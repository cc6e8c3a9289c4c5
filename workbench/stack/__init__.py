"""The local stack: the real Kafka broker and ClickHouse server, started from this repository."""

from workbench.stack._process import StackError
from workbench.stack._stack import Stack, Topology

__all__ = ["Stack", "StackError", "Topology"]
