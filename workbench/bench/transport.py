"""What SCRAM-SHA-512 over TLS costs against PLAINTEXT: the same events produced to, and read
raw (as (a) reads them) from, the stack's secured broker and a plaintext broker started for the
measure beside it (its own ports and state under ``<state_dir>/bench/plaintext``, the stack's
jars; stopped and deleted afterwards). Same machine, same run, same events."""

from __future__ import annotations

import shutil
import socket
import time
from typing import Any

from streams.settings import Settings
from workbench.playback import produce
from workbench.stack._process import absolute
from workbench.stack.kafka import KafkaBroker


def transport_cost(bench: Any, raw_read: Any) -> None:
    """Figures ``produce_secured`` / ``produce_plaintext`` and ``a_raw_aiokafka_plaintext``
    (beside (a) on the secured broker), and their ratios in ``tls_scram_cost``."""
    from streams.topics import create_topics

    secured: Settings = bench.settings
    plain = _plaintext_broker(secured)
    broker = KafkaBroker(plain)
    try:
        bench.progress(broker.up(bench.progress))
        create_topics(plain)
        rates = {}
        for name, settings in (
            ("produce_plaintext", plain),
            ("produce_secured", _beside(secured, "tx.")),
        ):
            if settings is not plain:
                create_topics(settings)
            started = time.perf_counter()
            produce(settings, bench.records, bench.events, label=f"{name}: {bench.events:,}")
            rates[name] = bench.events / (time.perf_counter() - started)
            bench.figures[name] = {"median": rates[name], "runs": [rates[name]]}
            bench.progress(f"{name}: {rates[name]:,.0f}/s")
        reading = bench.median("a_raw_aiokafka_plaintext", lambda: raw_read(_with(bench, plain)))
        bench.figures["tls_scram_cost"] = {
            "produce": rates["produce_secured"] / rates["produce_plaintext"],
            "raw_read": bench.figures["a_raw_aiokafka"]["median"] / reading,
        }
    finally:
        broker.down()
        shutil.rmtree(plain.state_dir, ignore_errors=True)


def _plaintext_broker(secured: Settings) -> Settings:
    state = absolute(secured).state_dir
    plain = secured.model_copy(
        update={
            "state_dir": state / "bench" / "plaintext",
            "kafka_security": "plaintext",
            "kafka_bootstrap": f"127.0.0.1:{_free_port()}",
            "kafka_controller_port": _free_port(),
        }
    )
    libs = KafkaBroker(plain).libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    if not libs.exists():
        libs.symlink_to(KafkaBroker(secured).libs)  # the stack's jars, resolved once
    return plain


def _beside(settings: Settings, prefix: str) -> Settings:
    """Topics of their own beside the bench's (deleted with them: same run prefix)."""
    return settings.model_copy(update={"topic_prefix": settings.topic_prefix + prefix})


def _with(bench: Any, settings: Settings) -> Any:
    """The bench, reading ``settings``' broker."""
    from dataclasses import replace

    return replace(bench, settings=settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
