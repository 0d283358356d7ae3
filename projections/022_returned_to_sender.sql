-- Projection "tracking", continued: an order whose every parcel came back undelivered
-- (拒收退回, OrderReturnedToSender) is closed, so it is never overdue.
COMMENT ON COLUMN order_tracking.status IS 'Order status: pending, pre_order, on_hold, confirmed, allocated, partially_shipped, shipped, delivered, completed, cancelled, rejected, returned_to_sender (every parcel came back undelivered: refused, undeliverable).';
CREATE OR REPLACE VIEW overdue_order AS
SELECT order_no,
       channel,
       status,
       CASE WHEN allocated_at IS NULL THEN 'allocate' ELSE 'ship' END AS overdue_step,
       CASE WHEN allocated_at IS NULL THEN promised_allocate_by ELSE promised_ship_by END AS due_at,
       placed_at
FROM order_tracking
WHERE status NOT IN ('shipped', 'delivered', 'completed', 'cancelled', 'rejected', 'returned_to_sender')
  AND ((allocated_at IS NULL AND promised_allocate_by < now()) OR promised_ship_by < now());
COMMENT ON VIEW overdue_order IS 'Open orders that are late right now: not allocated or not shipped by their promise.';
COMMENT ON COLUMN overdue_order.order_no IS 'Order number.';
COMMENT ON COLUMN overdue_order.channel IS 'Sales channel.';
COMMENT ON COLUMN overdue_order.status IS 'Current order status.';
COMMENT ON COLUMN overdue_order.overdue_step IS 'allocate (not yet at a warehouse) or ship (at a warehouse, not shipped).';
COMMENT ON COLUMN overdue_order.due_at IS 'The deadline that passed.';
COMMENT ON COLUMN overdue_order.placed_at IS 'When the order was placed.';
