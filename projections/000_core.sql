-- Bookkeeping every projection schema holds: where each projection has read up to.
-- Rows here are written in the same transaction as the projection rows they
-- account for, which is what makes a restart resume exactly.
CREATE TABLE projection_offset (
    projection    text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    next_offset   bigint      NOT NULL DEFAULT 0,
    last_event_at timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
COMMENT ON TABLE projection_offset IS
    'Kafka position of each projection per topic partition, committed atomically with its rows.';
COMMENT ON COLUMN projection_offset.projection IS 'Projection name (inventory, tracking, exceptions, analytics).';
COMMENT ON COLUMN projection_offset.topic IS 'Full Kafka topic name, prefix included.';
COMMENT ON COLUMN projection_offset.partition IS 'Kafka partition number.';
COMMENT ON COLUMN projection_offset.next_offset IS 'Offset of the next record to read; everything before it is applied.';
COMMENT ON COLUMN projection_offset.last_event_at IS 'Timestamp of the newest record applied from this partition.';
COMMENT ON COLUMN projection_offset.updated_at IS 'Wall-clock time of the transaction that last advanced this row.';
