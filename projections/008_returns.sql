-- Projection "returns": one row per return (RMA), the return-reasons fact, overdue returns.
CREATE TABLE return_tracking (
    return_id          uuid        PRIMARY KEY,
    return_no          text        NOT NULL,
    order_id           uuid        NOT NULL,
    channel            text,
    status             text        NOT NULL,
    reason             text        NOT NULL,
    refund_only        boolean     NOT NULL,
    exchange_order_id  uuid,
    exchange_lines     jsonb       NOT NULL,
    lines              jsonb       NOT NULL,
    currency           text        NOT NULL,
    worth              bigint      NOT NULL,
    requested_at       timestamptz NOT NULL,
    decided_by         text,
    decided_at         timestamptz,
    rejected_reason    text,
    parcel_due_at      timestamptz,
    carrier            text,
    tracking_no        text,
    shipped_at         timestamptz,
    last_scan_status   text,
    last_scan_at       timestamptz,
    last_scan_location text,
    location           text,
    received_at        timestamptz,
    received_units     integer     NOT NULL,
    inspected_at       timestamptz,
    restocked_units    integer     NOT NULL,
    written_off_units  integer     NOT NULL,
    refund_amount      bigint,
    refunded_at        timestamptz,
    closed_at          timestamptz,
    version            integer     NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX return_tracking_order ON return_tracking (order_id);
CREATE UNIQUE INDEX return_tracking_no ON return_tracking (return_no);
COMMENT ON TABLE return_tracking IS 'One row per return (RMA): its status, lines, reason, parcel, receipt, inspection and refund.';
COMMENT ON COLUMN return_tracking.return_id IS 'Return aggregate id (derived from order id and return number).';
COMMENT ON COLUMN return_tracking.return_no IS 'Our return number (RMA), as the customer and the CLI name it.';
COMMENT ON COLUMN return_tracking.order_id IS 'The order the goods were bought with.';
COMMENT ON COLUMN return_tracking.channel IS 'The order''s sales channel (web, tmall, jd, pos, ...).';
COMMENT ON COLUMN return_tracking.status IS 'requested, approved, rejected, shipped, received, inspected, refunded, closed (an exchange) or cancelled.';
COMMENT ON COLUMN return_tracking.reason IS 'Reason code of the returns settings, e.g. no_reason_7d (七天无理由), quality (质量问题).';
COMMENT ON COLUMN return_tracking.refund_only IS 'Money back without a parcel (仅退款).';
COMMENT ON COLUMN return_tracking.exchange_order_id IS 'The replacement order of an exchange (换货); null otherwise.';
COMMENT ON COLUMN return_tracking.exchange_lines IS 'What the replacement order ships: [{sku, quantity}].';
COMMENT ON COLUMN return_tracking.lines IS 'Lines coming back: [{line_no, sku, quantity, received, outcome, outcome_reason}]; outcome resellable or damaged once inspected.';
COMMENT ON COLUMN return_tracking.currency IS 'ISO 4217 currency of the amounts.';
COMMENT ON COLUMN return_tracking.worth IS 'What the requested units were paid (line nets prorated), minor units.';
COMMENT ON COLUMN return_tracking.requested_at IS 'When the return was opened.';
COMMENT ON COLUMN return_tracking.decided_by IS 'Who approved or rejected it: rules, or the operator''s name.';
COMMENT ON COLUMN return_tracking.decided_at IS 'When it was approved or rejected.';
COMMENT ON COLUMN return_tracking.rejected_reason IS 'Why it was rejected, e.g. return.window_closed.';
COMMENT ON COLUMN return_tracking.parcel_due_at IS 'The customer''s parcel is expected (scanned or received) by then; null for refund-only.';
COMMENT ON COLUMN return_tracking.carrier IS 'Carrier of the customer''s parcel.';
COMMENT ON COLUMN return_tracking.tracking_no IS 'Waybill number of the customer''s parcel.';
COMMENT ON COLUMN return_tracking.shipped_at IS 'When the customer''s parcel was announced (ReturnShipped).';
COMMENT ON COLUMN return_tracking.last_scan_status IS 'The carrier''s last scan of the parcel: in_transit, out_for_delivery, delivered, delivery_failed or returned_to_sender.';
COMMENT ON COLUMN return_tracking.last_scan_at IS 'When the carrier last scanned the parcel (its clock).';
COMMENT ON COLUMN return_tracking.last_scan_location IS 'Where the carrier last scanned the parcel.';
COMMENT ON COLUMN return_tracking.location IS 'Warehouse or store that received the goods.';
COMMENT ON COLUMN return_tracking.received_at IS 'When the goods arrived.';
COMMENT ON COLUMN return_tracking.received_units IS 'Units that arrived, all lines.';
COMMENT ON COLUMN return_tracking.inspected_at IS 'When the goods were inspected.';
COMMENT ON COLUMN return_tracking.restocked_units IS 'Units judged resellable and put back on sale.';
COMMENT ON COLUMN return_tracking.written_off_units IS 'Units judged damaged and written off.';
COMMENT ON COLUMN return_tracking.refund_amount IS 'The refund the order agreed (line nets prorated), minor units; null until refunded.';
COMMENT ON COLUMN return_tracking.refunded_at IS 'When the refund was agreed and sent to the payment.';
COMMENT ON COLUMN return_tracking.closed_at IS 'When the return ended: refunded, closed, rejected or cancelled.';
COMMENT ON COLUMN return_tracking.version IS 'Return aggregate version when the row was last written.';
COMMENT ON COLUMN return_tracking.updated_at IS 'Time of the last event applied.';


-- Returns approved whose parcel is neither scanned nor received by its due time.
CREATE VIEW overdue_return AS
SELECT return_id, return_no, order_id, channel, status, reason, carrier, tracking_no,
       parcel_due_at, now() - parcel_due_at AS overdue_by
FROM return_tracking
WHERE status IN ('approved', 'shipped')
  AND last_scan_at IS NULL
  AND received_at IS NULL
  AND parcel_due_at < now();
COMMENT ON VIEW overdue_return IS 'Exceptions: returns approved whose parcel has no carrier scan and no receipt by parcel_due_at (settings returns.parcel_due_days after approval).';
COMMENT ON COLUMN overdue_return.return_id IS 'Return aggregate id.';
COMMENT ON COLUMN overdue_return.return_no IS 'Our return number.';
COMMENT ON COLUMN overdue_return.order_id IS 'The order of the return.';
COMMENT ON COLUMN overdue_return.channel IS 'Sales channel of the order.';
COMMENT ON COLUMN overdue_return.status IS 'approved (no parcel announced) or shipped (announced, never scanned).';
COMMENT ON COLUMN overdue_return.reason IS 'Return reason code.';
COMMENT ON COLUMN overdue_return.carrier IS 'Carrier of the parcel, when announced.';
COMMENT ON COLUMN overdue_return.tracking_no IS 'Waybill of the parcel, when announced.';
COMMENT ON COLUMN overdue_return.parcel_due_at IS 'When the parcel was due.';
COMMENT ON COLUMN overdue_return.overdue_by IS 'How late it is now.';
