-- Projection "warehouse", continued: a parcel's own price.
-- A COD parcel of an order split over several parcels collects its own lines' price,
-- not the whole order's: the label prints what ShipmentCreated says the parcel costs.
ALTER TABLE warehouse_shipment ADD COLUMN parcel_price bigint;
COMMENT ON COLUMN warehouse_shipment.parcel_price IS 'Minor units the parcel''s lines cost when the order ships in several parcels (nets, plus shipping and tax on the parcel holding the lowest line): what a cash-on-delivery courier collects. NULL: the parcel is the whole order.';
