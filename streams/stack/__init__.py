"""The local stack: the real Kafka broker and ClickHouse server, started from this repository."""

from streams.stack._process import StackError
from streams.stack._stack import Stack

__all__ = ["Stack", "StackError"]
