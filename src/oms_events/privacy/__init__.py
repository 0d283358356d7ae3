"""Personal data sealed per order, forgettable per customer (crypto-shredding, issue 18).

* :mod:`~oms_events.privacy.seal`: one field's value as a sealed token and back.
* :mod:`~oms_events.privacy.marks`: which fields of which schemas are personal
  (``"pii": true`` in the ``.avsc``), what order a record belongs to, who its customer is.
* :mod:`~oms_events.privacy.keystore`: the order keys in PostgreSQL, wrapped by a master
  key, found by customer only through HMACs of phones and accounts.
* :mod:`~oms_events.privacy.vault`: the codec that seals on encode and opens on decode.
* :mod:`~oms_events.privacy.forget`: ``oms customer forget``.
"""
