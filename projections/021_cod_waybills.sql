-- Projection "cod", continued: one row per waybill. An order shipped in several parcels
-- has its COD tender collected in parts, one per waybill, each remitted and reconciled
-- on its own; the row without a waybill (part '') is what is still asked for.
ALTER TABLE cod_outstanding ADD COLUMN part text NOT NULL DEFAULT '';
UPDATE cod_outstanding SET part = tracking_no WHERE tracking_no IS NOT NULL;
ALTER TABLE cod_outstanding DROP CONSTRAINT cod_outstanding_pkey;
ALTER TABLE cod_outstanding ADD PRIMARY KEY (payment_id, part);
COMMENT ON TABLE cod_outstanding IS 'Cash on delivery per order and waybill: what the courier must collect, what it collected on each waybill and when, and what its remittance file paid over (oms cod reconcile).';
COMMENT ON COLUMN cod_outstanding.part IS 'The waybill (tracking_no) of a collection; empty for what the COD tenders still ask for, not collected yet.';
COMMENT ON COLUMN cod_outstanding.expected_amount IS 'What the courier should collect, minor units: on a waybill, its parcel''s price (all the COD tenders asked for, for a single parcel); without one, what the tenders still ask for.';
COMMENT ON COLUMN cod_outstanding.payment_id IS 'Payment aggregate id (deterministic from the order id); with part, the key.';
