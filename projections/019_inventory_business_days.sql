-- Projection "inventory", continued: days are the shop's business days, and low_stock
-- shows the demand forecast's suggestion.
--
-- The inventory projection keeps its own one-row calendar rather than reading the
-- analytics projection's business_calendar: a replay of analytics swaps its tables in
-- with DROP ... CASCADE, which would take every inventory view reading business_calendar
-- along. oms db migrate, oms replay and oms report write every calendar from the same
-- setting (OMS_ANALYTICS_TIMEZONE) in one call (analytics/calendar.py set_timezone).
CREATE TABLE inventory_calendar (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    timezone text    NOT NULL
);
COMMENT ON TABLE inventory_calendar IS 'One row: the time zone of the shop''s business day for the inventory views (settings analytics.timezone).';
COMMENT ON COLUMN inventory_calendar.one IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN inventory_calendar.timezone IS 'IANA time zone name, e.g. Asia/Shanghai; days start at its midnight.';
INSERT INTO inventory_calendar (timezone) VALUES ('Asia/Shanghai');

-- Units shipped per item and day were a table cut at UTC midnight, written by the
-- consumer: now a view over the stock ledger's shipped movements, cut at the business
-- day's midnight, so a changed time zone re-buckets history without a replay. It is
-- the same demand the forecast learns from (released drop-ship stock included).
DROP VIEW low_stock;
DROP TABLE inventory_sales_daily;
CREATE VIEW inventory_sales_daily AS
SELECT s.item_id,
       (s.occurred_at AT TIME ZONE c.timezone)::date AS day,
       sum(-s.on_hand_delta)::bigint AS units
FROM stock_ledger s CROSS JOIN inventory_calendar c
WHERE s.movement = 'shipped'
GROUP BY 1, 2;
COMMENT ON VIEW inventory_sales_daily IS 'Units shipped per item and business day (inventory_calendar time zone), from the stock ledger: the demand the forecast learns from.';
COMMENT ON COLUMN inventory_sales_daily.item_id IS 'InventoryItem aggregate id; join inventory_level for sku and location.';
COMMENT ON COLUMN inventory_sales_daily.day IS 'Business day of the shipped movements (date in the shop''s time zone).';
COMMENT ON COLUMN inventory_sales_daily.units IS 'Units shipped that day.';
-- low_stock is made again by projections/views/low_stock.sql: it reads demand_forecast,
-- which is not this projection's.
