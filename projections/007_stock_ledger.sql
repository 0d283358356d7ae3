-- Projection "inventory", continued: stock in transit, low since when, and the stock
-- ledger, one row per event that moves on hand, reserved or in transit, so no unit
-- moves without a trace. Per item, the ledger's deltas sum to inventory_level.
ALTER TABLE inventory_level ADD COLUMN in_transit bigint NOT NULL DEFAULT 0;
ALTER TABLE inventory_level ADD COLUMN low_since timestamptz;
COMMENT ON COLUMN inventory_level.in_transit IS 'Units dispatched here by transfers not yet received: neither on hand nor available, but on their way.';
COMMENT ON COLUMN inventory_level.low_since IS 'When available fell below the threshold (LowStock); NULL while it is not low (StockReplenished).';

CREATE TABLE stock_ledger (
    item_id          uuid        NOT NULL,
    version          integer     NOT NULL,
    sku              text        NOT NULL,
    location         text        NOT NULL,
    movement         text        NOT NULL,
    on_hand_delta    bigint      NOT NULL,
    reserved_delta   bigint      NOT NULL,
    in_transit_delta bigint      NOT NULL,
    reason           text,
    note             text,
    actor            text,
    reference        text,
    other_location   text,
    event_name       text        NOT NULL,
    event_topic      text        NOT NULL,
    event_partition  integer     NOT NULL,
    event_offset     bigint      NOT NULL,
    occurred_at      timestamptz NOT NULL,
    PRIMARY KEY (item_id, version)
);
CREATE INDEX stock_ledger_sku_location ON stock_ledger (sku, location, occurred_at);
-- oms stock transfer-receive finds a transfer's destination by its id.
CREATE INDEX stock_ledger_transfer ON stock_ledger (reference) WHERE movement = 'transfer_expected';
COMMENT ON TABLE stock_ledger IS 'Every movement of stock of one item (sku at location), one row per inventory event that changes on hand, reserved or in transit; the deltas of an item sum to its inventory_level row.';
COMMENT ON COLUMN stock_ledger.item_id IS 'InventoryItem aggregate id (deterministic from sku and location).';
COMMENT ON COLUMN stock_ledger.version IS 'Aggregate version of the event: with item_id, the row''s identity (an event is entered once).';
COMMENT ON COLUMN stock_ledger.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN stock_ledger.location IS 'Warehouse or store whose stock moved.';
COMMENT ON COLUMN stock_ledger.movement IS 'received | restocked (a return) | adjusted | counted | transfer_out | transfer_expected | transfer_in move on hand or in transit; reserved | released move only availability (reserved); shipped (a reservation committed) moves both.';
COMMENT ON COLUMN stock_ledger.on_hand_delta IS 'Change of on hand (signed units).';
COMMENT ON COLUMN stock_ledger.reserved_delta IS 'Change of reserved (signed units); available changes by on_hand_delta - reserved_delta.';
COMMENT ON COLUMN stock_ledger.in_transit_delta IS 'Change of units in transit to this location (signed).';
COMMENT ON COLUMN stock_ledger.reason IS 'Why: the receipt''s reason (a PO number), the adjustment reason (damage, loss, found, count_correction), a release''s reason; NULL when none.';
COMMENT ON COLUMN stock_ledger.note IS 'The operator''s free-text note (adjustments, counts, transfers); NULL when none.';
COMMENT ON COLUMN stock_ledger.actor IS 'Who did it (oms stock --by); NULL for the engine''s own movements (reservations, shipping) and events of earlier versions.';
COMMENT ON COLUMN stock_ledger.reference IS 'What it belongs to: the order id (reserved, released, shipped), the return id (restocked), the transfer id (transfer_*).';
COMMENT ON COLUMN stock_ledger.other_location IS 'The other end of a transfer (destination of transfer_out, source of transfer_expected / transfer_in).';
COMMENT ON COLUMN stock_ledger.event_name IS 'The inventory event entered, e.g. StockAdjusted.';
COMMENT ON COLUMN stock_ledger.event_topic IS 'Kafka topic of the event (the system of record).';
COMMENT ON COLUMN stock_ledger.event_partition IS 'Partition of the event in event_topic.';
COMMENT ON COLUMN stock_ledger.event_offset IS 'Offset of the event in that partition: where to read the original.';
COMMENT ON COLUMN stock_ledger.occurred_at IS 'When the event happened (its timestamp, UTC).';

-- The view of 001 also shows what is in transit and since when the item is low, and
-- its suggestion counts the units already on their way.
CREATE OR REPLACE VIEW low_stock AS
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
       greatest(
           l.low_stock_threshold + ceil(coalesce(s.per_day, 0) * 14) - l.available - l.in_transit,
           0
       )::bigint AS suggested_replenishment,
       l.updated_at,
       l.in_transit,
       l.low_since
FROM inventory_level l
LEFT JOIN sales s USING (item_id)
WHERE l.available < l.low_stock_threshold;
COMMENT ON COLUMN low_stock.suggested_replenishment IS 'Units to order: threshold + 14 days of sales - available - in transit, never negative.';
COMMENT ON COLUMN low_stock.in_transit IS 'Units on their way here by transfers.';
COMMENT ON COLUMN low_stock.low_since IS 'When available fell below the threshold (the LowStock event).';
