"""oms-events: an event-sourced order management system on Apache Kafka and PostgreSQL."""

__version__ = "0.1.0"
