-- Computed, not folded from events: `oms forecast run` (by hand or on the report
-- scheduler's cron) writes the demand forecast and the replenishment it suggests here.
-- No projection owns it (core does), so a replay never drops it; low_stock
-- (projections/views/) shows it next to the stock.
CREATE TABLE demand_forecast (
    sku              text        NOT NULL,
    location         text        NOT NULL,
    method           text        NOT NULL CHECK (method IN ('holt-winters', 'average', 'none')),
    daily_forecast   numeric     NOT NULL,
    lead_time_days   numeric     NOT NULL,
    lead_time_demand bigint      NOT NULL,
    safety_stock     bigint      NOT NULL,
    available        bigint      NOT NULL,
    in_transit       bigint      NOT NULL,
    suggested        bigint      NOT NULL CHECK (suggested >= 0),
    computed_at      timestamptz NOT NULL,
    PRIMARY KEY (sku, location)
);
COMMENT ON TABLE demand_forecast IS 'The latest demand forecast and replenishment suggestion per sku and location (oms forecast run); replaced whole by each run.';
COMMENT ON COLUMN demand_forecast.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN demand_forecast.location IS 'Warehouse or store holding the stock.';
COMMENT ON COLUMN demand_forecast.method IS 'holt-winters (4+ weeks of history, weekly season), average (28-day average of a shorter history) or none (nothing ever shipped).';
COMMENT ON COLUMN demand_forecast.daily_forecast IS 'Forecast units shipped per business day over the lead time.';
COMMENT ON COLUMN demand_forecast.lead_time_days IS 'Days from ordering to receiving the run assumed (OMS_STOCK_LEAD_TIME_DAYS or --lead-time).';
COMMENT ON COLUMN demand_forecast.lead_time_demand IS 'Forecast units over the lead time, rounded up.';
COMMENT ON COLUMN demand_forecast.safety_stock IS 'OMS_STOCK_SAFETY_DAYS of forecast demand, at least the low-stock threshold.';
COMMENT ON COLUMN demand_forecast.available IS 'Available units (on hand - reserved) when the run computed the suggestion.';
COMMENT ON COLUMN demand_forecast.in_transit IS 'Units in transit by transfers when the run computed the suggestion.';
COMMENT ON COLUMN demand_forecast.suggested IS 'Units to order: lead_time_demand + safety_stock - available - in_transit, never negative, as of computed_at.';
COMMENT ON COLUMN demand_forecast.computed_at IS 'When the run computed this row.';
