"""The operator API under ``/api/v1``, served by the same server as the channel intake
(:mod:`oms_events.intake.http`).

* :mod:`.roles` — who may call what (one table, read by every route).
* :mod:`.users` — operators' accounts: argon2id passwords, signed bearer tokens.
* :mod:`.channel_keys` — channels' keys: HMAC-signed intake requests, replay refusal
  and a rate limit per key.
* :mod:`.database` — the read models (the projections' schema) and the API's tables.
* :mod:`.orders`, :mod:`.actions`, :mod:`.stock`, :mod:`.exceptions`,
  :mod:`.dashboard` — the routes. Reads come from the projections; writes are commands
  on Kafka, each carrying the signed-in user as its actor.
"""
