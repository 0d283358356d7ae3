-- Projection "analytics": one fact row per order line, and views over it.
CREATE TABLE fact_order_line (
    order_id     uuid        NOT NULL,
    line_no      integer     NOT NULL,
    order_no     text        NOT NULL,
    channel      text        NOT NULL,
    region       text,
    sku          text        NOT NULL,
    quantity     integer     NOT NULL,
    unit_price   bigint      NOT NULL,
    discount     bigint      NOT NULL,
    net_amount   bigint      NOT NULL,
    currency     text        NOT NULL,
    location     text,
    status       text        NOT NULL,
    placed_at    timestamptz NOT NULL,
    confirmed_at timestamptz,
    allocated_at timestamptz,
    shipped_at   timestamptz,
    delivered_at timestamptz,
    cancelled_at timestamptz,
    version      integer     NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX fact_order_line_placed ON fact_order_line (placed_at);
COMMENT ON TABLE fact_order_line IS 'Analytics fact: one row per order line with its channel, region, prices and milestones.';
COMMENT ON COLUMN fact_order_line.order_id IS 'Order aggregate id.';
COMMENT ON COLUMN fact_order_line.line_no IS 'Line number within the order.';
COMMENT ON COLUMN fact_order_line.order_no IS 'Order number.';
COMMENT ON COLUMN fact_order_line.channel IS 'Sales channel: web, tmall, jd, pos, ...';
COMMENT ON COLUMN fact_order_line.region IS 'Delivery province (or country when there is none).';
COMMENT ON COLUMN fact_order_line.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN fact_order_line.quantity IS 'Units ordered (after any quantity change).';
COMMENT ON COLUMN fact_order_line.unit_price IS 'Price of one unit before discount, minor units.';
COMMENT ON COLUMN fact_order_line.discount IS 'Total discount on the line, minor units.';
COMMENT ON COLUMN fact_order_line.net_amount IS 'unit_price * quantity - discount, minor units.';
COMMENT ON COLUMN fact_order_line.currency IS 'ISO 4217 currency of the amounts.';
COMMENT ON COLUMN fact_order_line.location IS 'Warehouse the line was reserved at / allocated to.';
COMMENT ON COLUMN fact_order_line.status IS 'open, shipped, delivered, removed, cancelled or rejected; only the first three count as sold.';
COMMENT ON COLUMN fact_order_line.placed_at IS 'When the order was placed.';
COMMENT ON COLUMN fact_order_line.confirmed_at IS 'When the order was (last) confirmed.';
COMMENT ON COLUMN fact_order_line.allocated_at IS 'When the order was allocated to warehouses.';
COMMENT ON COLUMN fact_order_line.shipped_at IS 'When this line shipped.';
COMMENT ON COLUMN fact_order_line.delivered_at IS 'When the order was delivered.';
COMMENT ON COLUMN fact_order_line.cancelled_at IS 'When the order was cancelled or rejected, or the line removed.';
COMMENT ON COLUMN fact_order_line.version IS 'Order aggregate version when the row was last written.';

CREATE VIEW daily_sales AS
SELECT (placed_at AT TIME ZONE 'UTC')::date AS day,
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
COMMENT ON VIEW daily_sales IS 'Units and money sold per UTC day of placement, channel and sku; cancelled, rejected and removed lines excluded.';
COMMENT ON COLUMN daily_sales.day IS 'UTC date the orders were placed.';
COMMENT ON COLUMN daily_sales.channel IS 'Sales channel.';
COMMENT ON COLUMN daily_sales.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN daily_sales.currency IS 'Currency of the amounts.';
COMMENT ON COLUMN daily_sales.orders IS 'Orders with at least one such line.';
COMMENT ON COLUMN daily_sales.units IS 'Units sold.';
COMMENT ON COLUMN daily_sales.gross_amount IS 'Units times unit price, before discount, minor units.';
COMMENT ON COLUMN daily_sales.discount IS 'Discounts given, minor units.';
COMMENT ON COLUMN daily_sales.net_amount IS 'Gross minus discount, minor units.';

CREATE VIEW fulfilment_times AS
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
       extract(epoch FROM delivered_at - placed_at) / 3600 AS hours_to_deliver
FROM fact_order_line
WHERE status IN ('open', 'shipped', 'delivered');
COMMENT ON VIEW fulfilment_times IS 'Per sold line: hours from placement to confirmation, shipment and delivery (NULL until it happens).';
COMMENT ON COLUMN fulfilment_times.order_id IS 'Order aggregate id.';
COMMENT ON COLUMN fulfilment_times.line_no IS 'Line number.';
COMMENT ON COLUMN fulfilment_times.order_no IS 'Order number.';
COMMENT ON COLUMN fulfilment_times.channel IS 'Sales channel.';
COMMENT ON COLUMN fulfilment_times.region IS 'Delivery province.';
COMMENT ON COLUMN fulfilment_times.location IS 'Warehouse that shipped the line.';
COMMENT ON COLUMN fulfilment_times.placed_at IS 'When the order was placed.';
COMMENT ON COLUMN fulfilment_times.hours_to_confirm IS 'Hours from placement to confirmation.';
COMMENT ON COLUMN fulfilment_times.hours_to_ship IS 'Hours from placement to the line shipping.';
COMMENT ON COLUMN fulfilment_times.hours_in_transit IS 'Hours from the line shipping to delivery.';
COMMENT ON COLUMN fulfilment_times.hours_to_deliver IS 'Hours from placement to delivery.';
