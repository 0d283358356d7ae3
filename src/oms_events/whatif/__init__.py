"""What-if: replay a window of recorded demand and supply through other fulfilment
rules on a fork of the log, and compare the fork with what happened.

``outcomes`` folds order and inventory events into what each order came to (pure),
``comparison`` turns two such folds into figures per channel and region (pure),
``fork`` runs the real engine on the fork (Kafka and PostgreSQL).
"""


class WhatIfError(RuntimeError):
    """A what-if could not run; the message is one line naming the fix."""
