-- Merging (合单) and splitting (拆单) orders, on the tracking projection: the merge
-- group an order ships in, and the units a split order has backordered.
ALTER TABLE order_tracking ADD COLUMN merge_group uuid;
ALTER TABLE order_tracking ADD COLUMN backordered_units integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN order_tracking.merge_group IS 'The merge group (合单, oms order merge) the order ships in: its lines leave in one parcel per location with the group''s other orders (shipment_tracking.order_id is the group''s lead order); null when it ships alone.';
COMMENT ON COLUMN order_tracking.backordered_units IS 'Units of a split order (拆单, oms order split --by availability) waiting for stock: its backordered lines (order_line.status backordered), allocated in a parcel of their own when stock arrives; 0 when nothing waits.';

-- The merge groups: which orders ship together, and how far each has got.
CREATE VIEW merge_group AS
SELECT merge_group,
       count(*) AS orders,
       array_agg(order_no ORDER BY placed_at, order_no) AS order_nos,
       min(customer_name) AS customer_name,
       array_agg(status ORDER BY placed_at, order_no) AS statuses
FROM order_tracking
WHERE merge_group IS NOT NULL
GROUP BY merge_group;
COMMENT ON VIEW merge_group IS 'Merge groups (合单): orders of one customer and address shipping as one parcel per location.';
COMMENT ON COLUMN merge_group.merge_group IS 'The merge group id (a uuid5 of its sorted order ids).';
COMMENT ON COLUMN merge_group.orders IS 'How many orders ship in the group.';
COMMENT ON COLUMN merge_group.order_nos IS 'Their order numbers, oldest first.';
COMMENT ON COLUMN merge_group.customer_name IS 'The customer''s name.';
COMMENT ON COLUMN merge_group.statuses IS 'Each order''s status, in the order of order_nos.';
