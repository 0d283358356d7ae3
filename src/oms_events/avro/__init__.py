"""Avro contracts: the schema catalog of ``schemas/`` and the wire codecs."""
