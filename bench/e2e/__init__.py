"""``oms bench``: the end-to-end benchmark of the engine and projections, with its baseline.

* :mod:`bench.e2e.workload` — the order mix (Zipf skus, lines, channels, cancellations,
  invalid deliveries) and the open-loop rate schedule; pure, unit-tested.
* :mod:`bench.e2e.stats` — percentiles and per-stage verdicts; pure, unit-tested.
* :mod:`bench.e2e.harness` — starts ``oms run`` and ``oms project`` as subprocesses on
  the local Kafka and PostgreSQL, drives the stages and the ramp, measures.
* :mod:`bench.e2e.baseline` — the same workload through ``eventsourcing.postgres``.
* :mod:`bench.e2e.report` — the printed table, the JSON and the PNG chart.
* :mod:`bench.e2e.profiled_engine` — an engine process whose hot processor runs under
  pyinstrument (``oms bench --profile``).
"""
