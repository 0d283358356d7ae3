"""Projections: Kafka event topics folded into PostgreSQL tables, exactly once.

* :mod:`spec` — what a projection is (topics, group, migrations, handlers).
* :mod:`rows` — bulk helpers the consumers write with (COPY, guarded upserts).
* :mod:`rowcache` — the rows a projection committed, kept in memory between batches.
* :mod:`offsets` — the ``projection_offset`` table, advanced in the rows' transaction.
* :mod:`migrate` — versioned SQL of ``projections/`` applied to a target schema.
* :mod:`runner` — the batching consumer behind ``oms project``.
* :mod:`replay` — rebuild into a fresh schema and swap in; point-in-time copies.
* :mod:`status` — lag per partition and age of the last event, also as Prometheus text.
* :mod:`lookup` — an order and its timeline, for ``oms order show``.
"""
