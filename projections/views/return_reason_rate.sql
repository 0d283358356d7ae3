-- The return-reasons fact: returned units over shipped units by sku, channel and reason.
-- Returned units come from the returns projection's return_tracking, shipped units from
-- the analytics projection's fact_order_line.
CREATE OR REPLACE VIEW return_reason_rate AS
WITH returned AS (
    SELECT l->>'sku' AS sku, r.channel, r.reason, sum((l->>'quantity')::integer) AS units
    FROM return_tracking r, jsonb_array_elements(r.lines) l
    WHERE r.status NOT IN ('rejected', 'cancelled')
    GROUP BY 1, 2, 3
), shipped AS (
    SELECT sku, channel, sum(quantity) AS units
    FROM fact_order_line
    WHERE shipped_at IS NOT NULL
    GROUP BY 1, 2
)
SELECT returned.sku, returned.channel, returned.reason,
       returned.units AS returned_units,
       coalesce(shipped.units, 0) AS shipped_units,
       returned.units::numeric / nullif(shipped.units, 0) AS return_rate
FROM returned LEFT JOIN shipped USING (sku, channel);
COMMENT ON VIEW return_reason_rate IS 'Return-reasons fact: per sku, channel and reason, units returned (returns not rejected or cancelled) over units shipped.';
COMMENT ON COLUMN return_reason_rate.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN return_reason_rate.channel IS 'Sales channel of the orders.';
COMMENT ON COLUMN return_reason_rate.reason IS 'Return reason code.';
COMMENT ON COLUMN return_reason_rate.returned_units IS 'Units in returns for this reason (not rejected or cancelled).';
COMMENT ON COLUMN return_reason_rate.shipped_units IS 'Units of the sku shipped on the channel (all reasons share it).';
COMMENT ON COLUMN return_reason_rate.return_rate IS 'returned_units / shipped_units; null when nothing shipped.';
