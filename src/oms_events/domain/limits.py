"""The largest quantities and amounts the trade admits: rules, not storage limits.

No real order line, stock level or payment comes near them, so anything above is a
typo, a unit mix-up (grams for kilograms) or an attack, and is refused with a domain
error (then dead-lettered) instead of reaching a projection column it would overflow.

* ``MAX_UNITS``: one quantity (order line, receipt, reservation, return) and one stock
  level (on hand at one location): 10^9 units.
* ``MAX_AMOUNT``: one amount in minor units, 10^13 (¥100 billion in fen). Sums of
  10^5 such amounts still fit a PostgreSQL ``bigint`` (9.2 × 10^18).
"""

from __future__ import annotations

from typing import Final

MAX_UNITS: Final = 10**9
MAX_AMOUNT: Final = 10**13
