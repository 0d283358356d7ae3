-- Projection "analytics": days are the shop's business days, cut at midnight of its time
-- zone (settings analytics.timezone, Asia/Shanghai by default), not at UTC midnight
-- (08:00 in China). The zone lives in a one-row table so plain SQL (psql, a notebook)
-- buckets days as the reports do; oms db migrate, oms replay and oms report write it
-- from settings.
CREATE TABLE business_calendar (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    timezone text    NOT NULL
);
COMMENT ON TABLE business_calendar IS 'One row: the time zone of the shop''s business day (settings analytics.timezone).';
COMMENT ON COLUMN business_calendar.one IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN business_calendar.timezone IS 'IANA time zone name, e.g. Asia/Shanghai; days start at its midnight.';
INSERT INTO business_calendar (timezone) VALUES ('Asia/Shanghai');

-- The views join the calendar rather than call a function: `oms replay` moves a
-- projection's relations from its build schema into the live one and drops the build
-- schema, which would take a function (and every view using it) along.
CREATE OR REPLACE VIEW daily_sales AS
SELECT (f.placed_at AT TIME ZONE c.timezone)::date AS day,
       f.channel,
       f.sku,
       f.currency,
       count(DISTINCT f.order_id) AS orders,
       sum(f.quantity)::bigint AS units,
       sum(f.unit_price * f.quantity)::bigint AS gross_amount,
       sum(f.discount)::bigint AS discount,
       sum(f.net_amount)::bigint AS net_amount
FROM fact_order_line f CROSS JOIN business_calendar c
WHERE f.status IN ('open', 'shipped', 'delivered')
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW daily_sales IS 'Units and money sold per business day of placement (business_calendar time zone), channel and sku; cancelled, rejected and removed lines excluded.';
COMMENT ON COLUMN daily_sales.day IS 'Business day the orders were placed (date in the shop''s time zone).';

-- fulfilment_times gains the business day of placement (new columns go last).
CREATE OR REPLACE VIEW fulfilment_times AS
SELECT f.order_id,
       f.line_no,
       f.order_no,
       f.channel,
       f.region,
       f.location,
       f.placed_at,
       extract(epoch FROM f.confirmed_at - f.placed_at) / 3600 AS hours_to_confirm,
       extract(epoch FROM f.shipped_at - f.placed_at) / 3600 AS hours_to_ship,
       extract(epoch FROM f.delivered_at - f.shipped_at) / 3600 AS hours_in_transit,
       extract(epoch FROM f.delivered_at - f.placed_at) / 3600 AS hours_to_deliver,
       (f.placed_at AT TIME ZONE c.timezone)::date AS day,
       f.sku
FROM fact_order_line f CROSS JOIN business_calendar c
WHERE f.status IN ('open', 'shipped', 'delivered');
COMMENT ON COLUMN fulfilment_times.day IS 'Business day the order was placed (date in the shop''s time zone).';
COMMENT ON COLUMN fulfilment_times.sku IS 'Stock keeping unit of the line.';
