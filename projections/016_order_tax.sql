-- Projection "tracking", continued: tax charged on top of prices, and masked receivers.
ALTER TABLE order_tracking
    ADD COLUMN tax             bigint  NOT NULL DEFAULT 0,
    ADD COLUMN receiver_masked boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN order_tracking.tax IS 'Tax charged on top of the prices (a shop whose prices exclude tax, Shopify taxes_included false), minor units; 0 when prices include any tax.';
COMMENT ON COLUMN order_tracking.receiver_masked IS 'The platform sent the receiver masked (138****1234) or encrypted: customer_name and phone hold what it sent, not a dialable phone.';
COMMENT ON COLUMN order_tracking.order_total IS 'lines_total + shipping_fee + tax: what the customer owes.';
