"""Carrier push formats: each carrier's own tracking push read as :class:`Scan` records.

One module per format (``sf``, ``zto``, ``jd``, ``generic``); :mod:`formats` picks the
module for a record of ``oms.carrier.updates``. No Kafka here: the carrier adapter
(``engine/carrier_adapter.py``), the CLI and the tests all parse through these modules.
"""
