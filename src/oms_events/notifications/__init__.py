"""Customer notifications and channel feedback: what ``oms notify run`` plans and sends.

The ``notifications`` projection (``consumers/notifications.py``) turns order, shipment
and return events into rows of the ``notification`` table, exactly once per event (rows
and offsets in one PostgreSQL transaction); the dispatcher sends each row over its
channel (mail, SMS, signed webhook, the sales channel's outbound topic) and marks it
sent, retrying with capped backoff and dead-lettering after the last attempt.
"""
