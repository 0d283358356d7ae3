-- Projection "analytics": days are the shop's business days, cut at midnight of its time
-- zone (settings analytics.timezone, Asia/Shanghai by default), not at UTC midnight
-- (08:00 in China). The zone lives in a one-row table so plain SQL (psql, a notebook)
-- buckets days as the reports do; oms db migrate and oms report write it from settings.
CREATE TABLE business_calendar (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    timezone text    NOT NULL
);
COMMENT ON TABLE business_calendar IS 'One row: the time zone of the shop''s business day (settings analytics.timezone).';
COMMENT ON COLUMN business_calendar.one IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN business_calendar.timezone IS 'IANA time zone name, e.g. Asia/Shanghai; days start at its midnight.';
INSERT INTO business_calendar (timezone) VALUES ('Asia/Shanghai');

-- STABLE, not IMMUTABLE: the answer changes when the calendar row does.
CREATE FUNCTION business_day(at timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT (at AT TIME ZONE (SELECT timezone FROM business_calendar))::date $$;
COMMENT ON FUNCTION business_day(timestamptz) IS 'The business day (date in the shop''s time zone, business_calendar) of an instant.';

CREATE OR REPLACE VIEW daily_sales AS
SELECT business_day(placed_at) AS day,
       channel,
       sku,
       currency,
       count(DISTINCT order_id) AS orders,
       sum(quantity)::bigint AS units,
       sum(unit_price * quantity)::bigint AS gross_amount,
       sum(discount)::bigint AS discount,
       sum(net_amount)::bigint AS net_amount
FROM fact_order_line
WHERE status IN ('open', 'shipped', 'delivered')
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW daily_sales IS 'Units and money sold per business day of placement (business_calendar time zone), channel and sku; cancelled, rejected and removed lines excluded.';
COMMENT ON COLUMN daily_sales.day IS 'Business day the orders were placed (date in the shop''s time zone).';

-- fulfilment_times gains the business day of placement (new columns go last).
CREATE OR REPLACE VIEW fulfilment_times AS
SELECT order_id,
       line_no,
       order_no,
       channel,
       region,
       location,
       placed_at,
       extract(epoch FROM confirmed_at - placed_at) / 3600 AS hours_to_confirm,
       extract(epoch FROM shipped_at - placed_at) / 3600 AS hours_to_ship,
       extract(epoch FROM delivered_at - shipped_at) / 3600 AS hours_in_transit,
       extract(epoch FROM delivered_at - placed_at) / 3600 AS hours_to_deliver,
       business_day(placed_at) AS day,
       sku
FROM fact_order_line
WHERE status IN ('open', 'shipped', 'delivered');
COMMENT ON COLUMN fulfilment_times.day IS 'Business day the order was placed (date in the shop''s time zone).';
COMMENT ON COLUMN fulfilment_times.sku IS 'Stock keeping unit of the line.';
