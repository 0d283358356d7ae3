"""The engine: partitioned exactly-once processors, the order saga and allocation.

Each processor consumes ``oms.<type>.commands`` in a consumer group, rebuilds the
aggregates of its partitions from ``oms.<type>.events`` and answers every batch of
commands with one Kafka transaction holding the events, replies, follow-up commands
and the consumed offsets. ``runner.Engine`` starts them; ``oms run`` is its command.

Where each thing is decided:

* ``commands``: one frozen dataclass per command schema, read and written in one place
* ``order_service`` / ``inventory_service`` / ``shipment_service`` /
  ``warehouse_adapter``: a handler per command type, no Kafka
* ``order_saga``, ``sourcing``, ``allocation``: what an order needs next, no Kafka
* ``handling``: one record through a service (dedup, forwarding, dead letters)
* ``processor``, ``partition``, ``stock_watcher``: the Kafka side that feeds them
"""
