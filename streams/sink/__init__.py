"""Sinks: building rows for ClickHouse (pure) and writing them (I/O)."""
