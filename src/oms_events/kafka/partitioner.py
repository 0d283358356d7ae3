"""Java's default partitioner: where a keyed record lands, whichever client wrote it.

``partition_for`` is what the Java client (and librdkafka with
``partitioner=murmur2_random``) computes, so the engine can name a key's owner
partition itself, and a record keyed by an aggregate id lands on the partition
whose processor owns that aggregate.
"""

from __future__ import annotations

from functools import lru_cache

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 as ``org.apache.kafka.common.utils.Utils.murmur2`` (seed 0x9747b28c),
    as an unsigned 32-bit integer."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    end = length - length % 4
    for i in range(0, end, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    if tail == 3:
        h ^= data[end + 2] << 16
    if tail >= 2:
        h ^= data[end + 1] << 8
    if tail >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


# 8,192 recent keys: the ones that come back are an order's commands within its life and
# the popular items; 65,536 entries held ~25 MiB for keys never seen again (bench/memory.py).
@lru_cache(maxsize=1 << 13)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Java's default partitioner gives ``key`` among ``partitions``.

    Cached: murmur2 in Python costs ~10 µs a key and the same keys come back all the
    time (an order's commands, the popular items).
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions
