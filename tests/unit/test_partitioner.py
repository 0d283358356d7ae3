"""The partitioner is Java's: murmur2 as Kafka's own tests pin it."""

from __future__ import annotations

from oms_events.kafka.partitioner import murmur2, partition_for


def _signed(h: int) -> int:
    return h - (1 << 32) if h & 0x80000000 else h


def test_murmur2_matches_kafkas_utils_test_vectors() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    assert {k: _signed(murmur2(k)) for k in cases} == cases


def test_partition_is_the_positive_hash_modulo_the_count() -> None:
    # toPositive(murmur2) % n, as the Java client's BuiltInPartitioner computes it.
    assert partition_for(b"foobar", 7) == (-790332482 & 0x7FFFFFFF) % 7
    assert all(0 <= partition_for(bytes([i]), 6) < 6 for i in range(256))
