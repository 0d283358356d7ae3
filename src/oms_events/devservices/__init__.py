"""Local development services: a real Kafka broker (KRaft) and a real PostgreSQL server,
on loopback, data under one folder. Used by ``oms dev`` and by the integration tests."""
