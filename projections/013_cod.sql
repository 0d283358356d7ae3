-- Projection "cod": cash on delivery, from the tender asked for to the courier's
-- remittance, one row per COD order.
CREATE TABLE cod_outstanding (
    payment_id          uuid        PRIMARY KEY,
    order_id            uuid        NOT NULL,
    order_no            text        NOT NULL,
    channel             text        NOT NULL,
    currency            text        NOT NULL,
    expected_amount     bigint      NOT NULL,
    carrier             text,
    tracking_no         text,
    collected_amount    bigint,
    collected_at        timestamptz,
    collection_variance bigint,
    remitted_amount     bigint,
    fee                 bigint,
    remitted_on         date,
    batch               text,
    missing_in          text,
    status              text        NOT NULL CHECK (status IN (
        'awaiting_delivery', 'collected', 'remitted', 'short_paid', 'over_paid',
        'missing', 'voided')),
    version             integer     NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX cod_outstanding_waybill ON cod_outstanding (carrier, tracking_no);
CREATE INDEX cod_outstanding_status ON cod_outstanding (status);
COMMENT ON TABLE cod_outstanding IS 'Cash on delivery per order and waybill: what the courier must collect, what it collected and when, and what its remittance file paid over (oms cod reconcile).';
COMMENT ON COLUMN cod_outstanding.payment_id IS 'Payment aggregate id (deterministic from the order id).';
COMMENT ON COLUMN cod_outstanding.order_id IS 'The order.';
COMMENT ON COLUMN cod_outstanding.order_no IS 'Order number the shop shows.';
COMMENT ON COLUMN cod_outstanding.channel IS 'Sales channel of the order.';
COMMENT ON COLUMN cod_outstanding.currency IS 'ISO 4217 code of every amount; amounts are in its minor units.';
COMMENT ON COLUMN cod_outstanding.expected_amount IS 'What the COD tenders ask the courier to collect, minor units.';
COMMENT ON COLUMN cod_outstanding.carrier IS 'Courier that collected (SF, YTO...); NULL until collected.';
COMMENT ON COLUMN cod_outstanding.tracking_no IS 'Waybill the cash was collected on (the key of the courier''s remittance file); NULL until collected.';
COMMENT ON COLUMN cod_outstanding.collected_amount IS 'Cash the courier collected at the door, minor units; NULL until collected.';
COMMENT ON COLUMN cod_outstanding.collected_at IS 'When the courier collected (the delivered scan).';
COMMENT ON COLUMN cod_outstanding.collection_variance IS 'collected_amount - expected_amount: negative when the door was short, positive when over; NULL until collected.';
COMMENT ON COLUMN cod_outstanding.remitted_amount IS 'The collected amount the courier''s remittance file states for the waybill, minor units; NULL until remitted.';
COMMENT ON COLUMN cod_outstanding.fee IS 'The courier''s fee for collecting, minor units, from its remittance file.';
COMMENT ON COLUMN cod_outstanding.remitted_on IS 'Date the courier paid the money over (回款日期), from its remittance file.';
COMMENT ON COLUMN cod_outstanding.batch IS 'Remittance file that settled the waybill (carrier and shortened SHA-256 of the file).';
COMMENT ON COLUMN cod_outstanding.missing_in IS 'Last remittance file that should have listed the waybill and did not; NULL when none.';
COMMENT ON COLUMN cod_outstanding.status IS 'awaiting_delivery (not collected), collected (awaiting remittance), remitted (file matches the cash collected), short_paid / over_paid (file states less / more than collected), missing (collected, absent from a remittance file), voided (order cancelled before delivery).';
COMMENT ON COLUMN cod_outstanding.version IS 'Payment version of the last event applied (guards against applying an event twice).';
COMMENT ON COLUMN cod_outstanding.updated_at IS 'Timestamp of the last event applied.';
