-- Projection "inventory": stock per sku and location, and what is running low.
CREATE TABLE inventory_level (
    item_id             uuid        PRIMARY KEY,
    sku                 text        NOT NULL,
    location            text        NOT NULL,
    on_hand             bigint      NOT NULL,
    reserved            bigint      NOT NULL,
    available           bigint      GENERATED ALWAYS AS (on_hand - reserved) STORED,
    low_stock_threshold bigint      NOT NULL,
    version             integer     NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX inventory_level_sku_location ON inventory_level (sku, location);
COMMENT ON TABLE inventory_level IS 'Stock of one sku at one location (one InventoryItem aggregate).';
COMMENT ON COLUMN inventory_level.item_id IS 'InventoryItem aggregate id (deterministic from sku and location).';
COMMENT ON COLUMN inventory_level.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN inventory_level.location IS 'Warehouse or store holding the stock.';
COMMENT ON COLUMN inventory_level.on_hand IS 'Units physically at the location (received + adjusted + restocked - shipped).';
COMMENT ON COLUMN inventory_level.reserved IS 'Units promised to open reservations, not yet shipped.';
COMMENT ON COLUMN inventory_level.available IS 'Units that can still be sold: on_hand - reserved.';
COMMENT ON COLUMN inventory_level.low_stock_threshold IS 'Available below this is low stock (0 = never low).';
COMMENT ON COLUMN inventory_level.version IS 'Aggregate version of the last event applied (guards against applying an event twice).';
COMMENT ON COLUMN inventory_level.updated_at IS 'Timestamp of the last event applied.';

CREATE TABLE inventory_sales_daily (
    item_id uuid    NOT NULL,
    day     date    NOT NULL,
    units   bigint  NOT NULL,
    PRIMARY KEY (item_id, day)
);
COMMENT ON TABLE inventory_sales_daily IS 'Units shipped (reservations committed) per item and UTC day: the recent-sales basis of low_stock.';
COMMENT ON COLUMN inventory_sales_daily.item_id IS 'InventoryItem aggregate id; join inventory_level for sku and location.';
COMMENT ON COLUMN inventory_sales_daily.day IS 'UTC date of the ReservationCommitted events.';
COMMENT ON COLUMN inventory_sales_daily.units IS 'Units committed (shipped) that day.';

-- "Recent" is measured against the projection's own clock (newest event applied),
-- not now(), so a point-in-time copy answers as of its instant.
CREATE VIEW low_stock AS
WITH clock AS (
    SELECT coalesce(max(updated_at), now())::date AS today FROM inventory_level
), sales AS (
    SELECT d.item_id, sum(d.units)::numeric / 28 AS per_day
    FROM inventory_sales_daily d, clock
    WHERE d.day > clock.today - 28 AND d.day <= clock.today
    GROUP BY d.item_id
)
SELECT l.sku,
       l.location,
       l.on_hand,
       l.reserved,
       l.available,
       l.low_stock_threshold,
       round(coalesce(s.per_day, 0), 2) AS daily_sales,
       CASE WHEN s.per_day > 0 THEN round(greatest(l.available, 0) / s.per_day, 1) END
           AS days_of_cover,
       greatest(l.low_stock_threshold + ceil(coalesce(s.per_day, 0) * 14) - l.available, 0)::bigint
           AS suggested_replenishment,
       l.updated_at
FROM inventory_level l
LEFT JOIN sales s USING (item_id)
WHERE l.available < l.low_stock_threshold;
COMMENT ON VIEW low_stock IS 'Items whose available stock is below their threshold, with cover and a reorder suggestion.';
COMMENT ON COLUMN low_stock.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN low_stock.location IS 'Warehouse or store holding the stock.';
COMMENT ON COLUMN low_stock.on_hand IS 'Units physically at the location.';
COMMENT ON COLUMN low_stock.reserved IS 'Units promised to open reservations.';
COMMENT ON COLUMN low_stock.available IS 'Units that can still be sold.';
COMMENT ON COLUMN low_stock.low_stock_threshold IS 'The threshold available fell below.';
COMMENT ON COLUMN low_stock.daily_sales IS 'Average units shipped per day over the 28 days up to the newest event.';
COMMENT ON COLUMN low_stock.days_of_cover IS 'Days the available stock lasts at daily_sales (NULL when nothing sold).';
COMMENT ON COLUMN low_stock.suggested_replenishment IS 'Units to order: threshold + 14 days of sales - available, never negative.';
COMMENT ON COLUMN low_stock.updated_at IS 'Timestamp of the last event applied to the item.';
