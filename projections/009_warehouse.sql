-- Projection "warehouse": what the warehouse floor needs to pick, pack and label
-- parcels (oms docs pick / pack / labels / verify). Names, phones, totals and the
-- payment method come from order_tracking (projection "tracking") at read time; the
-- full delivery address and the shipments' lines and waybills are kept here.
CREATE TABLE delivery_address (
    order_id   uuid        PRIMARY KEY,
    country    text        NOT NULL,
    province   text,
    city       text,
    district   text,
    line1      text        NOT NULL,
    postcode   text,
    version    integer     NOT NULL,
    updated_at timestamptz NOT NULL
);
COMMENT ON TABLE delivery_address IS 'The address each order is delivered to, as last changed: what a shipping label prints.';
COMMENT ON COLUMN delivery_address.order_id IS 'Order aggregate id; join order_tracking.';
COMMENT ON COLUMN delivery_address.country IS 'ISO 3166-1 alpha-2 country.';
COMMENT ON COLUMN delivery_address.province IS 'Province (省), required in China.';
COMMENT ON COLUMN delivery_address.city IS 'City (市).';
COMMENT ON COLUMN delivery_address.district IS 'District (区/县).';
COMMENT ON COLUMN delivery_address.line1 IS 'Street, building, room.';
COMMENT ON COLUMN delivery_address.postcode IS 'Postal code when given.';
COMMENT ON COLUMN delivery_address.version IS 'Order aggregate version of the last event applied.';
COMMENT ON COLUMN delivery_address.updated_at IS 'Timestamp of the last event applied.';

CREATE TABLE warehouse_shipment (
    shipment_id uuid        PRIMARY KEY,
    order_id    uuid        NOT NULL,
    location    text        NOT NULL,
    status      text        NOT NULL,
    lines       jsonb       NOT NULL,
    carrier     text,
    tracking_no text,
    wave        text,
    waybill_at  timestamptz,
    created_at  timestamptz NOT NULL,
    version     integer     NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX warehouse_shipment_open ON warehouse_shipment (location, status, created_at);
CREATE INDEX warehouse_shipment_wave ON warehouse_shipment (wave);
COMMENT ON TABLE warehouse_shipment IS 'One row per shipment with its lines and e-waybill: the open ones (created, picked, packed) are the warehouse''s work.';
COMMENT ON COLUMN warehouse_shipment.shipment_id IS 'Shipment aggregate id.';
COMMENT ON COLUMN warehouse_shipment.order_id IS 'The order shipped; join order_tracking and delivery_address.';
COMMENT ON COLUMN warehouse_shipment.location IS 'Warehouse the parcel leaves from.';
COMMENT ON COLUMN warehouse_shipment.status IS 'created, picked, packed, shipped, in_transit, delivered, delivery_failed, returned, cancelled.';
COMMENT ON COLUMN warehouse_shipment.lines IS 'The shipment''s lines: [{line_no, sku, quantity}].';
COMMENT ON COLUMN warehouse_shipment.carrier IS 'Carrier of the assigned e-waybill (or, once shipped, of the parcel).';
COMMENT ON COLUMN warehouse_shipment.tracking_no IS 'E-waybill number assigned when the pick wave was made (or, once shipped, the one the warehouse confirmed).';
COMMENT ON COLUMN warehouse_shipment.wave IS 'Pick wave the shipment was released in; NULL: not yet in a wave.';
COMMENT ON COLUMN warehouse_shipment.waybill_at IS 'When the e-waybill was assigned.';
COMMENT ON COLUMN warehouse_shipment.created_at IS 'When the shipment was opened for an allocation (the order waves are filled in).';
COMMENT ON COLUMN warehouse_shipment.version IS 'Shipment aggregate version of the last event applied.';
COMMENT ON COLUMN warehouse_shipment.updated_at IS 'Timestamp of the last event applied.';
