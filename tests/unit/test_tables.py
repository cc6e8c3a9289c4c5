"""The sweeps act only on keys of the partitions a worker owns; which partition a key is in must
be Kafka's own answer, the one the producer gives the key's messages."""

from __future__ import annotations

from kafka.partitioner import DefaultPartitioner

from streams.agents._tables import partition_of


def test_a_key_lands_where_kafka_puts_its_messages() -> None:
    partitions = list(range(4))
    keys = [b"p_" + bytes(f"{n:032x}", "ascii") for n in range(200)]
    keys += [plate.encode() for plate in ("沪A12345", "浙BPR5BP", "皖AUSF11")]
    for key in keys:
        assert partition_of(key) == DefaultPartitioner()(key, partitions, partitions)
    assert {partition_of(k) for k in keys} == set(partitions)
