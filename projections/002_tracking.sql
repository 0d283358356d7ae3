-- Projection "tracking": orders and shipments as customer service looks them up.
CREATE TABLE order_tracking (
    order_id             uuid        PRIMARY KEY,
    order_no             text        NOT NULL,
    channel              text        NOT NULL,
    external_id          text        NOT NULL,
    customer_name        text        NOT NULL,
    phone                text,
    customer_account     text,
    region               text,
    city                 text,
    status               text        NOT NULL,
    currency             text        NOT NULL,
    lines_total          bigint      NOT NULL,
    discount_total       bigint      NOT NULL,
    shipping_fee         bigint      NOT NULL,
    order_total          bigint      NOT NULL,
    amount_paid          bigint      NOT NULL,
    amount_refunded      bigint      NOT NULL,
    payment_method       text        NOT NULL,
    delivery_speed       text        NOT NULL,
    placed_at            timestamptz NOT NULL,
    promised_allocate_by timestamptz NOT NULL,
    promised_ship_by     timestamptz NOT NULL,
    promised_delivery_by timestamptz NOT NULL,
    confirmed_at         timestamptz,
    allocated_at         timestamptz,
    shipped_at           timestamptz,
    delivered_at         timestamptz,
    completed_at         timestamptz,
    closed_at            timestamptz,
    close_reason         text,
    hold_reason          text,
    status_before_hold   text,
    version              integer     NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE UNIQUE INDEX order_tracking_order_no ON order_tracking (order_no);
CREATE INDEX order_tracking_phone ON order_tracking (phone);
CREATE INDEX order_tracking_customer ON order_tracking (customer_account);
COMMENT ON TABLE order_tracking IS 'One row per order: where it is, what it costs, what was promised and when things happened.';
COMMENT ON COLUMN order_tracking.order_id IS 'Order aggregate id (deterministic from channel and external id).';
COMMENT ON COLUMN order_tracking.order_no IS 'Order number shown to customers and staff.';
COMMENT ON COLUMN order_tracking.channel IS 'Sales channel: web, tmall, jd, pos, ...';
COMMENT ON COLUMN order_tracking.external_id IS 'The channel''s own order id.';
COMMENT ON COLUMN order_tracking.customer_name IS 'Customer name as the channel gave it.';
COMMENT ON COLUMN order_tracking.phone IS 'Customer phone, a lookup key for customer service.';
COMMENT ON COLUMN order_tracking.customer_account IS 'Customer account id at the channel, a lookup key.';
COMMENT ON COLUMN order_tracking.region IS 'Delivery province (or country when there is none).';
COMMENT ON COLUMN order_tracking.city IS 'Delivery city.';
COMMENT ON COLUMN order_tracking.status IS 'Order status: pending, pre_order, on_hold, confirmed, allocated, partially_shipped, shipped, delivered, completed, cancelled, rejected.';
COMMENT ON COLUMN order_tracking.currency IS 'ISO 4217 currency of every amount of the order.';
COMMENT ON COLUMN order_tracking.lines_total IS 'Sum of line nets (after discounts), minor units.';
COMMENT ON COLUMN order_tracking.discount_total IS 'Sum of line discounts, minor units.';
COMMENT ON COLUMN order_tracking.shipping_fee IS 'Shipping fee charged, minor units.';
COMMENT ON COLUMN order_tracking.order_total IS 'What the customer owes: lines_total + shipping_fee, minor units.';
COMMENT ON COLUMN order_tracking.amount_paid IS 'Payments recorded on the order, minor units.';
COMMENT ON COLUMN order_tracking.amount_refunded IS 'Refunds recorded on the order, minor units.';
COMMENT ON COLUMN order_tracking.payment_method IS 'card, alipay, wechat_pay or cod (cash on delivery).';
COMMENT ON COLUMN order_tracking.delivery_speed IS 'Delivery promise bought: standard, express, next_day, same_day.';
COMMENT ON COLUMN order_tracking.placed_at IS 'When the customer placed the order at the channel.';
COMMENT ON COLUMN order_tracking.promised_allocate_by IS 'Deadline to allocate to a warehouse: placed_at + the speed''s allocation time.';
COMMENT ON COLUMN order_tracking.promised_ship_by IS 'Deadline to ship: placed_at + the speed''s shipping time.';
COMMENT ON COLUMN order_tracking.promised_delivery_by IS 'Delivery promised to the customer: placed_at + the speed''s delivery time.';
COMMENT ON COLUMN order_tracking.confirmed_at IS 'When every line was reserved and the order confirmed (last confirmation).';
COMMENT ON COLUMN order_tracking.allocated_at IS 'When the order was sent to its warehouse(s).';
COMMENT ON COLUMN order_tracking.shipped_at IS 'When the last line shipped.';
COMMENT ON COLUMN order_tracking.delivered_at IS 'When the order was delivered.';
COMMENT ON COLUMN order_tracking.completed_at IS 'When the delivered, paid order was closed.';
COMMENT ON COLUMN order_tracking.closed_at IS 'When the order was cancelled or rejected.';
COMMENT ON COLUMN order_tracking.close_reason IS 'Why it was cancelled or rejected.';
COMMENT ON COLUMN order_tracking.hold_reason IS 'Why it is on hold (NULL when not held).';
COMMENT ON COLUMN order_tracking.status_before_hold IS 'Status the order returns to when its hold is released (NULL when not held).';
COMMENT ON COLUMN order_tracking.version IS 'Order aggregate version of the last event applied.';
COMMENT ON COLUMN order_tracking.updated_at IS 'Timestamp of the last event applied.';

CREATE TABLE order_line (
    order_id       uuid        NOT NULL,
    line_no        integer     NOT NULL,
    sku            text        NOT NULL,
    quantity       integer     NOT NULL,
    unit_price     bigint      NOT NULL,
    discount       bigint      NOT NULL,
    net_amount     bigint      NOT NULL,
    promotions     text[]      NOT NULL,
    status         text        NOT NULL,
    location       text,
    reservation_id uuid,
    shipment_id    text,
    shipped_at     timestamptz,
    version        integer     NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
COMMENT ON TABLE order_line IS 'One row per order line, including removed ones (status removed).';
COMMENT ON COLUMN order_line.order_id IS 'Order aggregate id; join order_tracking.';
COMMENT ON COLUMN order_line.line_no IS 'Line number within the order, from 1.';
COMMENT ON COLUMN order_line.sku IS 'Stock keeping unit ordered.';
COMMENT ON COLUMN order_line.quantity IS 'Units ordered.';
COMMENT ON COLUMN order_line.unit_price IS 'Price of one unit before discount, minor units.';
COMMENT ON COLUMN order_line.discount IS 'Total discount on the line (all units), minor units.';
COMMENT ON COLUMN order_line.net_amount IS 'unit_price * quantity - discount, minor units.';
COMMENT ON COLUMN order_line.promotions IS 'Codes of the promotions that gave the discount.';
COMMENT ON COLUMN order_line.status IS 'open, reserved, allocated, shipped or removed.';
COMMENT ON COLUMN order_line.location IS 'Warehouse the line is reserved at / allocated to.';
COMMENT ON COLUMN order_line.reservation_id IS 'Stock reservation held for the line.';
COMMENT ON COLUMN order_line.shipment_id IS 'Shipment that carried the line.';
COMMENT ON COLUMN order_line.shipped_at IS 'When the line shipped.';
COMMENT ON COLUMN order_line.version IS 'Order aggregate version when the row was last written.';

CREATE TABLE order_timeline (
    aggregate_id uuid        NOT NULL,
    version      integer     NOT NULL,
    order_id     uuid        NOT NULL,
    aggregate    text        NOT NULL,
    event        text        NOT NULL,
    at           timestamptz NOT NULL,
    detail       jsonb       NOT NULL,
    PRIMARY KEY (aggregate_id, version)
);
CREATE INDEX order_timeline_order ON order_timeline (order_id, at);
COMMENT ON TABLE order_timeline IS 'One row per event of an order or of its shipments, in time order.';
COMMENT ON COLUMN order_timeline.aggregate_id IS 'Id of the aggregate that recorded the event (the order or a shipment).';
COMMENT ON COLUMN order_timeline.version IS 'Version of the event in that aggregate.';
COMMENT ON COLUMN order_timeline.order_id IS 'The order the event belongs to.';
COMMENT ON COLUMN order_timeline.aggregate IS 'order or shipment.';
COMMENT ON COLUMN order_timeline.event IS 'Event name, e.g. OrderPlaced, ShipmentShipped.';
COMMENT ON COLUMN order_timeline.at IS 'When the event happened.';
COMMENT ON COLUMN order_timeline.detail IS 'The event''s own attributes as JSON.';

CREATE TABLE shipment_tracking (
    shipment_id     uuid        PRIMARY KEY,
    order_id        uuid        NOT NULL,
    location        text        NOT NULL,
    status          text        NOT NULL,
    units           bigint      NOT NULL,
    carrier         text,
    tracking_no     text,
    created_at      timestamptz NOT NULL,
    picked_at       timestamptz,
    packed_at       timestamptz,
    shipped_at      timestamptz,
    in_transit_at   timestamptz,
    delivered_at    timestamptz,
    failed_attempts integer     NOT NULL,
    last_failure    text,
    returned_at     timestamptz,
    cancelled_at    timestamptz,
    close_reason    text,
    version         integer     NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX shipment_tracking_order ON shipment_tracking (order_id);
CREATE INDEX shipment_tracking_tracking_no ON shipment_tracking (tracking_no);
COMMENT ON TABLE shipment_tracking IS 'One row per shipment: one order''s lines leaving one location.';
COMMENT ON COLUMN shipment_tracking.shipment_id IS 'Shipment aggregate id.';
COMMENT ON COLUMN shipment_tracking.order_id IS 'The order shipped; join order_tracking.';
COMMENT ON COLUMN shipment_tracking.location IS 'Warehouse the parcel leaves from.';
COMMENT ON COLUMN shipment_tracking.status IS 'created, picked, packed, shipped, in_transit, delivered, delivery_failed, returned, cancelled.';
COMMENT ON COLUMN shipment_tracking.units IS 'Units in the shipment.';
COMMENT ON COLUMN shipment_tracking.carrier IS 'Carrier that took the parcel.';
COMMENT ON COLUMN shipment_tracking.tracking_no IS 'Carrier tracking number.';
COMMENT ON COLUMN shipment_tracking.created_at IS 'When the shipment was opened for an allocation.';
COMMENT ON COLUMN shipment_tracking.picked_at IS 'When the warehouse picked the goods.';
COMMENT ON COLUMN shipment_tracking.packed_at IS 'When the warehouse packed the parcel.';
COMMENT ON COLUMN shipment_tracking.shipped_at IS 'When the carrier took the parcel.';
COMMENT ON COLUMN shipment_tracking.in_transit_at IS 'Latest in-transit scan.';
COMMENT ON COLUMN shipment_tracking.delivered_at IS 'When the carrier delivered.';
COMMENT ON COLUMN shipment_tracking.failed_attempts IS 'Failed delivery attempts so far.';
COMMENT ON COLUMN shipment_tracking.last_failure IS 'Reason of the latest failed attempt.';
COMMENT ON COLUMN shipment_tracking.returned_at IS 'When the carrier started returning it to sender.';
COMMENT ON COLUMN shipment_tracking.cancelled_at IS 'When the shipment was stopped before leaving.';
COMMENT ON COLUMN shipment_tracking.close_reason IS 'Why it was returned or cancelled.';
COMMENT ON COLUMN shipment_tracking.version IS 'Shipment aggregate version of the last event applied.';
COMMENT ON COLUMN shipment_tracking.updated_at IS 'Timestamp of the last event applied.';

-- Open orders past a promise right now (now(), not the projection's clock:
-- this is for operations, who act on the present).
CREATE VIEW overdue_order AS
SELECT order_no,
       channel,
       status,
       CASE WHEN allocated_at IS NULL THEN 'allocate' ELSE 'ship' END AS overdue_step,
       CASE WHEN allocated_at IS NULL THEN promised_allocate_by ELSE promised_ship_by END AS due_at,
       placed_at
FROM order_tracking
WHERE status NOT IN ('shipped', 'delivered', 'completed', 'cancelled', 'rejected')
  AND ((allocated_at IS NULL AND promised_allocate_by < now()) OR promised_ship_by < now());
COMMENT ON VIEW overdue_order IS 'Open orders that are late right now: not allocated or not shipped by their promise.';
COMMENT ON COLUMN overdue_order.order_no IS 'Order number.';
COMMENT ON COLUMN overdue_order.channel IS 'Sales channel.';
COMMENT ON COLUMN overdue_order.status IS 'Current order status.';
COMMENT ON COLUMN overdue_order.overdue_step IS 'allocate (not yet at a warehouse) or ship (at a warehouse, not shipped).';
COMMENT ON COLUMN overdue_order.due_at IS 'The deadline that passed.';
COMMENT ON COLUMN overdue_order.placed_at IS 'When the order was placed.';
