-- Projection "tracking", continued: carrier scans of shipments (issue 15).
ALTER TABLE shipment_tracking
    ADD COLUMN out_for_delivery_at timestamptz,
    ADD COLUMN last_scan_at        timestamptz,
    ADD COLUMN last_scan_status    text,
    ADD COLUMN last_scan_location  text,
    ADD COLUMN eta                 timestamptz,
    ADD COLUMN signer              text;
COMMENT ON COLUMN shipment_tracking.status IS 'created, picked, packed, shipped, in_transit, out_for_delivery, delivered, delivery_failed, returned, cancelled.';
COMMENT ON COLUMN shipment_tracking.delivered_at IS 'When the carrier delivered: its scan time (the event time for shipments delivered before scans were recorded).';
COMMENT ON COLUMN shipment_tracking.out_for_delivery_at IS 'Latest scan of a courier out delivering the parcel (派送中).';
COMMENT ON COLUMN shipment_tracking.last_scan_at IS 'Time of the newest carrier scan applied (the carrier''s clock).';
COMMENT ON COLUMN shipment_tracking.last_scan_status IS 'Status of that scan: in_transit, out_for_delivery, delivered, delivery_failed, returned_to_sender.';
COMMENT ON COLUMN shipment_tracking.last_scan_location IS 'Where that scan happened, as the carrier names it.';
COMMENT ON COLUMN shipment_tracking.eta IS 'When the carrier last said it expects to deliver (NULL when it never said).';
COMMENT ON COLUMN shipment_tracking.signer IS 'Who signed for the delivered parcel (签收人), when the carrier said.';

CREATE TABLE shipment_scan (
    shipment_id uuid        NOT NULL,
    version     integer     NOT NULL,
    order_id    uuid        NOT NULL,
    carrier     text,
    tracking_no text,
    status      text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    location    text,
    eta         timestamptz,
    signer      text,
    reason      text,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (shipment_id, version)
);
CREATE INDEX shipment_scan_tracking_no ON shipment_scan (tracking_no, occurred_at);
CREATE INDEX shipment_scan_order ON shipment_scan (order_id, occurred_at);
COMMENT ON TABLE shipment_scan IS 'One row per carrier scan a shipment recorded (repeated and stale scans are not recorded, see domain/shipment.py).';
COMMENT ON COLUMN shipment_scan.shipment_id IS 'Shipment aggregate id; join shipment_tracking.';
COMMENT ON COLUMN shipment_scan.version IS 'Version of the shipment event that recorded the scan.';
COMMENT ON COLUMN shipment_scan.order_id IS 'The order shipped; join order_tracking.';
COMMENT ON COLUMN shipment_scan.carrier IS 'Carrier code, e.g. SF, ZTO, JD.';
COMMENT ON COLUMN shipment_scan.tracking_no IS 'The parcel''s waybill number.';
COMMENT ON COLUMN shipment_scan.status IS 'in_transit, out_for_delivery, delivered, delivery_failed or returned_to_sender.';
COMMENT ON COLUMN shipment_scan.occurred_at IS 'When the carrier scanned (its clock; the event time for scans recorded before scan times were).';
COMMENT ON COLUMN shipment_scan.location IS 'Where, as the carrier names it (city, hub, outlet).';
COMMENT ON COLUMN shipment_scan.eta IS 'Delivery the carrier expected at this scan, if it said.';
COMMENT ON COLUMN shipment_scan.signer IS 'Who signed (delivered scans), if the carrier said.';
COMMENT ON COLUMN shipment_scan.reason IS 'Why a delivery failed or the parcel goes back.';
COMMENT ON COLUMN shipment_scan.recorded_at IS 'When the shipment recorded the scan (event timestamp).';

-- Parcels on the road that no carrier has scanned for a while, now (a view, not rows
-- of the exception table: "silent" is a fact about the present that a later scan
-- ends, and a view is never stale and needs no timer). The threshold is the session
-- setting oms.silent_parcel_hours (`oms shipment silent` sets it from
-- OMS_PROJECTIONS_SILENT_PARCEL_HOURS), 48 when unset.
CREATE VIEW silent_parcel AS
SELECT s.shipment_id,
       o.order_no,
       s.carrier,
       s.tracking_no,
       s.status,
       coalesce(s.last_scan_at, s.shipped_at) AS last_heard_at,
       s.last_scan_location,
       s.eta,
       now() - coalesce(s.last_scan_at, s.shipped_at) AS silent_for
FROM shipment_tracking s
LEFT JOIN order_tracking o ON o.order_id = s.order_id
WHERE s.status IN ('shipped', 'in_transit', 'out_for_delivery', 'delivery_failed')
  AND coalesce(s.last_scan_at, s.shipped_at)
      < now() - make_interval(secs => 3600 * coalesce(
            nullif(current_setting('oms.silent_parcel_hours', true), '')::float8, 48));
COMMENT ON VIEW silent_parcel IS 'Shipped parcels with no carrier scan for oms.silent_parcel_hours (default 48) until now: lost, stuck or unscanned.';
COMMENT ON COLUMN silent_parcel.shipment_id IS 'Shipment aggregate id.';
COMMENT ON COLUMN silent_parcel.order_no IS 'Order number.';
COMMENT ON COLUMN silent_parcel.carrier IS 'Carrier that has the parcel.';
COMMENT ON COLUMN silent_parcel.tracking_no IS 'Waybill number to ask the carrier about.';
COMMENT ON COLUMN silent_parcel.status IS 'Shipment status (still on the road).';
COMMENT ON COLUMN silent_parcel.last_heard_at IS 'Newest scan, or the ship confirmation when never scanned.';
COMMENT ON COLUMN silent_parcel.last_scan_location IS 'Where it was last scanned.';
COMMENT ON COLUMN silent_parcel.eta IS 'Delivery the carrier last promised.';
COMMENT ON COLUMN silent_parcel.silent_for IS 'How long nothing has been heard.';
