"""The engine: partitioned exactly-once processors, the order saga and allocation.

Each processor consumes ``oms.<type>.commands`` in a consumer group, rebuilds the
aggregates of its partitions from ``oms.<type>.events`` and answers every batch of
commands with one Kafka transaction holding the events, replies, follow-up commands
and the consumed offsets. ``runner.Engine`` starts them; ``oms run`` is its command.
"""
