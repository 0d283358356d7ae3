-- Projection "exceptions", continued: deliveries later than the order's promise.
ALTER TABLE exception_subject
    ADD COLUMN deliver_by    timestamptz,
    ADD COLUMN late_delivery boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN exception_subject.deliver_by IS 'Delivery promised to the customer (orders only; NULL for orders placed before it was kept).';
COMMENT ON COLUMN exception_subject.late_delivery IS 'A late_delivery exception was raised for the order.';
COMMENT ON COLUMN exception.kind IS 'late_allocation, late_shipment, late_delivery, delivery_failed, order_rejected, reservation_rejected, rejected_command or dead_letter.';
COMMENT ON COLUMN exception.due_at IS 'For late_* kinds: the deadline that was missed.';
