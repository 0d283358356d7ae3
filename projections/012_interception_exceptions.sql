-- Projection "exceptions": a parcel the carrier was asked to intercept was delivered.
COMMENT ON COLUMN exception.kind IS 'late_allocation, late_shipment, delivery_failed, order_rejected, reservation_rejected, interception_failed (a parcel the carrier was asked to intercept reached the customer), rejected_command or dead_letter.';
