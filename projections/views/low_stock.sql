-- Items below their low-stock threshold with the replenishment the demand forecast
-- suggests (forecast over the lead time + safety stock - available - in transit).
-- Across "projections": inventory_level is the inventory projection's, demand_forecast
-- is computed by oms forecast run; an item the forecast has not seen yet shows NULLs.
CREATE OR REPLACE VIEW low_stock AS
SELECT l.sku,
       l.location,
       l.on_hand,
       l.reserved,
       l.available,
       l.in_transit,
       l.low_stock_threshold,
       l.low_since,
       l.updated_at,
       f.method,
       f.daily_forecast,
       f.lead_time_demand,
       f.safety_stock,
       f.suggested AS suggested_replenishment,
       f.computed_at AS forecast_at
FROM inventory_level l
LEFT JOIN demand_forecast f USING (sku, location)
WHERE l.available < l.low_stock_threshold;
COMMENT ON VIEW low_stock IS 'Items whose available stock is below their threshold, with the demand forecast''s replenishment suggestion (demand_forecast, oms forecast run).';
COMMENT ON COLUMN low_stock.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN low_stock.location IS 'Warehouse or store holding the stock.';
COMMENT ON COLUMN low_stock.on_hand IS 'Units physically at the location.';
COMMENT ON COLUMN low_stock.reserved IS 'Units promised to open reservations.';
COMMENT ON COLUMN low_stock.available IS 'Units that can still be sold.';
COMMENT ON COLUMN low_stock.in_transit IS 'Units on their way here by transfers.';
COMMENT ON COLUMN low_stock.low_stock_threshold IS 'The threshold available fell below.';
COMMENT ON COLUMN low_stock.low_since IS 'When available fell below the threshold (the LowStock event).';
COMMENT ON COLUMN low_stock.updated_at IS 'Timestamp of the last event applied to the item.';
COMMENT ON COLUMN low_stock.method IS 'How demand was forecast: holt-winters, average or none; NULL before the first oms forecast run saw the item.';
COMMENT ON COLUMN low_stock.daily_forecast IS 'Forecast units shipped per business day over the lead time.';
COMMENT ON COLUMN low_stock.lead_time_demand IS 'Forecast units over the lead time, rounded up.';
COMMENT ON COLUMN low_stock.safety_stock IS 'Safety stock the suggestion keeps: OMS_STOCK_SAFETY_DAYS of forecast demand, at least the threshold.';
COMMENT ON COLUMN low_stock.suggested_replenishment IS 'Units to order: lead_time_demand + safety_stock - available - in_transit, never negative, as of forecast_at.';
COMMENT ON COLUMN low_stock.forecast_at IS 'When oms forecast run computed the suggestion (stock moved since is not in it).';
