-- The review queue (审单异常): orders on hold waiting for an operator, read by
-- `oms order queue`; a view over the tracking projection, so it needs no consumer.
CREATE VIEW review_queue AS
SELECT order_id,
       order_no,
       channel,
       customer_name,
       phone,
       order_total,
       currency,
       hold_reason,
       CASE WHEN hold_reason LIKE 'review: %'
            THEN string_to_array(substr(hold_reason, 9), ', ')
            ELSE ARRAY[]::text[] END AS failed_rules,
       status_before_hold,
       placed_at,
       updated_at AS held_at
FROM order_tracking
WHERE status = 'on_hold';
COMMENT ON VIEW review_queue IS 'Orders on hold, for an operator to review (oms order review) or release (oms order release).';
COMMENT ON COLUMN review_queue.order_id IS 'Order id.';
COMMENT ON COLUMN review_queue.order_no IS 'Order number.';
COMMENT ON COLUMN review_queue.channel IS 'Channel the order came from.';
COMMENT ON COLUMN review_queue.customer_name IS 'Customer name.';
COMMENT ON COLUMN review_queue.phone IS 'Customer phone.';
COMMENT ON COLUMN review_queue.order_total IS 'Order total in minor units.';
COMMENT ON COLUMN review_queue.currency IS 'ISO 4217 currency of the total.';
COMMENT ON COLUMN review_queue.hold_reason IS 'Why it is held: review: <rules> for a failed review, else the operator''s or the workflow''s reason.';
COMMENT ON COLUMN review_queue.failed_rules IS 'The review rules it failed (address.incomplete, risk.amount, risk.phone); empty for other holds.';
COMMENT ON COLUMN review_queue.status_before_hold IS 'Status it returns to when released.';
COMMENT ON COLUMN review_queue.placed_at IS 'When the order was placed.';
COMMENT ON COLUMN review_queue.held_at IS 'When the tracking row last changed (the hold, or a later edit).';
