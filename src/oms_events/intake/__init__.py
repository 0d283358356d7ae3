"""Multi-channel order intake: each channel's own format in, one PlaceOrder command out.

Follow one delivery through these modules:

* ``web.py``, ``tmall.py``, ``jd.py``, ``pos.py``: one parser per channel format
  (Shopify-style JSON, Tmall JSON, JD XML, POS CSV batch) into :class:`IntakeOrder`.
* ``normalize.py`` (full-width text, phones, money), ``skus.py`` (channel sku to ours),
  ``pricing.py`` (promotions, per-line discount proration).
* ``dedup.py``: (channel, external id) -> content hash; decides place, change, duplicate.
* ``processor.py``: the pure step delivery -> commands + dead letters + index updates.
* ``adapter.py``: the Kafka consume-transform-produce loop, in transactions.
* ``http.py``: ``POST /channels/{channel}/orders`` for channels that push.
"""
