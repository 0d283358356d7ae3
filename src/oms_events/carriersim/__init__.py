"""The carrier simulator: couriers for a machine with no couriers.

It follows parcels handed over to carriers (``ShipmentShipped``) and publishes the
scans real carriers would push on ``oms.carrier.updates`` — collected, through hub
cities, out for delivery, delivered with a signer (and the cash of a COD order), or a
failed attempt and a retry, a parcel returned to sender, a parcel lost — with delays
scaled so a demo runs in seconds. ``life.py`` plans one parcel's scans (pure, seeded),
``formats.py`` renders a scan as a carrier push, ``simulator.py`` is the Kafka loop,
``__main__`` the process ``oms dev up`` starts.
"""
