-- Projection "exceptions": everything someone has to look at.
CREATE TABLE exception (
    exception_id     text        PRIMARY KEY,
    kind             text        NOT NULL,
    order_id         uuid,
    order_no         text,
    aggregate_id     uuid,
    location         text,
    reason           text,
    code             text,
    field            text,
    message          text,
    source_topic     text,
    source_partition integer,
    source_offset    bigint,
    due_at           timestamptz,
    occurred_at      timestamptz NOT NULL
);
CREATE INDEX exception_kind_time ON exception (kind, occurred_at);
CREATE INDEX exception_order ON exception (order_id);
COMMENT ON TABLE exception IS 'One row per exception: late allocation or shipment, failed delivery, rejection, dead-lettered input.';
COMMENT ON COLUMN exception.exception_id IS 'Deterministic id (kind and source), so an event applied twice adds no second row.';
COMMENT ON COLUMN exception.kind IS 'late_allocation, late_shipment, delivery_failed, order_rejected, reservation_rejected, rejected_command or dead_letter.';
COMMENT ON COLUMN exception.order_id IS 'The order concerned, when known.';
COMMENT ON COLUMN exception.order_no IS 'Its order number, when known.';
COMMENT ON COLUMN exception.aggregate_id IS 'Aggregate that recorded the event (shipment, inventory item, order).';
COMMENT ON COLUMN exception.location IS 'Warehouse concerned (shipments), when known.';
COMMENT ON COLUMN exception.reason IS 'Why: the event''s reason or the dead letter''s reason header.';
COMMENT ON COLUMN exception.code IS 'Machine-readable error code (dead letters: code header).';
COMMENT ON COLUMN exception.field IS 'The offending field of a dead-lettered input (field header).';
COMMENT ON COLUMN exception.message IS 'Human-readable explanation (dead letters: message header).';
COMMENT ON COLUMN exception.source_topic IS 'Topic of the input (dead letters: source.topic header, else the event topic).';
COMMENT ON COLUMN exception.source_partition IS 'Partition of the record the exception was read from.';
COMMENT ON COLUMN exception.source_offset IS 'Offset of the record the exception was read from.';
COMMENT ON COLUMN exception.due_at IS 'For late_* kinds: the deadline that was missed.';
COMMENT ON COLUMN exception.occurred_at IS 'When it happened (event timestamp; dead letters: record timestamp).';

CREATE TABLE exception_subject (
    aggregate_id uuid        PRIMARY KEY,
    order_id     uuid        NOT NULL,
    order_no     text,
    location     text,
    allocate_by  timestamptz,
    ship_by      timestamptz,
    late_allocation boolean  NOT NULL,
    late_shipment   boolean  NOT NULL,
    version      integer     NOT NULL
);
COMMENT ON TABLE exception_subject IS 'What the exceptions projection remembers of each order and shipment to judge later events.';
COMMENT ON COLUMN exception_subject.aggregate_id IS 'Order or shipment aggregate id.';
COMMENT ON COLUMN exception_subject.order_id IS 'The order (itself, or the shipment''s order).';
COMMENT ON COLUMN exception_subject.order_no IS 'Order number (orders only).';
COMMENT ON COLUMN exception_subject.location IS 'Warehouse (shipments only).';
COMMENT ON COLUMN exception_subject.allocate_by IS 'Allocation deadline (orders only).';
COMMENT ON COLUMN exception_subject.ship_by IS 'Shipping deadline (orders only).';
COMMENT ON COLUMN exception_subject.late_allocation IS 'A late_allocation exception was raised for the order.';
COMMENT ON COLUMN exception_subject.late_shipment IS 'A late_shipment exception was raised for the order.';
COMMENT ON COLUMN exception_subject.version IS 'Aggregate version of the last event applied.';
