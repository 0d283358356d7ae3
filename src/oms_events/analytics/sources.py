"""What a report can be about: each source is one SQL relation over the projections with
the dimensions it can be cut by and the measures it can sum up.

Dimensions and measures are whitelisted SQL expressions: a report definition names them,
it never carries SQL. ``day`` is always the business day (the instant's date in the
zone of ``business_calendar``, 015_business_days.sql), and
``week`` (starting Monday) and ``month`` are truncated from it.
"""

from __future__ import annotations

from dataclasses import dataclass

SOLD = "status IN ('open', 'shipped', 'delivered')"


def _day(column: str) -> str:
    return f"({column} AT TIME ZONE (SELECT timezone FROM business_calendar))::date"


# Time grains every source with a ``day`` column offers.
TIME = {
    "day": "day",
    "week": "date_trunc('week', day)::date",
    "month": "date_trunc('month', day)::date",
}


@dataclass(frozen=True)
class Source:
    """One relation reports read: its SQL, its dimensions and measures (name -> SQL)."""

    name: str
    relation: str
    dimensions: dict[str, str]
    measures: dict[str, str]
    description: str

    @property
    def has_days(self) -> bool:
        """Whether the source can be cut by day, week or month and windowed by dates."""
        return "day" in self.dimensions


def _dims(*names: str, time: bool = True) -> dict[str, str]:
    return {**{n: n for n in names}, **(TIME if time else {})}


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "sales",
            f"SELECT *, {_day('placed_at')} AS day FROM fact_order_line WHERE {SOLD}",
            _dims("channel", "sku", "location", "region", "currency"),
            {
                "orders": "count(DISTINCT order_id)",
                "lines": "count(*)",
                "units": "sum(quantity)::bigint",
                "gross_amount": "sum(unit_price * quantity)::bigint",
                "discount": "sum(discount)::bigint",
                "net_amount": "sum(net_amount)::bigint",
            },
            "Sold order lines (fact_order_line, not cancelled, rejected or removed); "
            "amounts in minor units; day = business day placed.",
        ),
        Source(
            "fulfilment",
            "SELECT * FROM fulfilment_times",
            _dims("channel", "sku", "location", "region"),
            {
                "lines": "count(*)",
                "shipped_lines": "count(hours_to_ship)",
                "delivered_lines": "count(hours_to_deliver)",
                "avg_hours_to_ship": "round(avg(hours_to_ship)::numeric, 2)",
                "p90_hours_to_ship": "round((percentile_cont(0.9) WITHIN GROUP "
                "(ORDER BY hours_to_ship))::numeric, 2)",
                "avg_hours_in_transit": "round(avg(hours_in_transit)::numeric, 2)",
                "avg_hours_to_deliver": "round(avg(hours_to_deliver)::numeric, 2)",
                "p90_hours_to_deliver": "round((percentile_cont(0.9) WITHIN GROUP "
                "(ORDER BY hours_to_deliver))::numeric, 2)",
            },
            "Hours from placement to shipping and delivery per sold line "
            "(fulfilment_times); day = business day placed.",
        ),
        Source(
            "returns",
            "SELECT r.return_id, r.channel, r.reason, r.location, l->>'sku' AS sku, "
            f"(l->>'quantity')::integer AS quantity, {_day('r.requested_at')} AS day "
            "FROM return_tracking r, jsonb_array_elements(r.lines) l "
            "WHERE r.status NOT IN ('rejected', 'cancelled')",
            _dims("channel", "sku", "location", "reason"),
            {"returns": "count(DISTINCT return_id)", "returned_units": "sum(quantity)::bigint"},
            "Return lines (return_tracking, not rejected or cancelled); "
            "day = business day requested.",
        ),
        Source(
            "exceptions",
            f"SELECT kind, location, reason, code, {_day('occurred_at')} AS day FROM exception",
            _dims("kind", "location", "reason", "code"),
            {"exceptions": "count(*)"},
            "Everything someone had to look at (exception), by kind; "
            "day = business day it occurred.",
        ),
        Source(
            "stock",
            "SELECT sku, location, on_hand, reserved, available, in_transit, "
            "low_stock_threshold FROM inventory_level",
            _dims("sku", "location", time=False),
            {
                "on_hand": "sum(on_hand)::bigint",
                "reserved": "sum(reserved)::bigint",
                "available": "sum(available)::bigint",
                "in_transit": "sum(in_transit)::bigint",
                "low_items": "count(*) FILTER (WHERE available < low_stock_threshold)",
            },
            "Stock now per sku and location (inventory_level); no days.",
        ),
    )
}
