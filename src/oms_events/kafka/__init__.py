"""Adapters for Apache Kafka: clients, topic administration, transactions."""
