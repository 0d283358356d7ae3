"""Fulfilment rules as data: where an order ships from (sourcing), with which carrier,
in which boxes. Pure decisions over a rules file (``rules.py``); no Kafka, no database."""
