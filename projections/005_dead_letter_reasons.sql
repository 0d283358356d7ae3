-- Projection "exceptions": a dead letter's whole reason, as oms_events.deadletter defines it.
ALTER TABLE exception
    ADD COLUMN message_zh  text,
    ADD COLUMN processor   text,
    ADD COLUMN error_class text;
COMMENT ON COLUMN exception.message_zh IS 'The message in Chinese (dead letters: dlq.message.zh header).';
COMMENT ON COLUMN exception.processor IS 'Dead letters: who refused the input (intake, engine.<service>, projection.<name>; dlq.processor header).';
COMMENT ON COLUMN exception.error_class IS 'Dead letters: the exception class that refused the input (dlq.error.class header).';
COMMENT ON COLUMN exception.kind IS 'late_allocation, late_shipment, delivery_failed, order_rejected, reservation_rejected or dead_letter.';
COMMENT ON COLUMN exception.exception_id IS 'Deterministic id (kind and source; dead letters: processor and source record), so an input seen twice adds no second row.';
COMMENT ON COLUMN exception.reason IS 'Why, for events: the event''s reason (dead letters: see code, field and message).';
COMMENT ON COLUMN exception.code IS 'Machine-readable error code (dead letters: dlq.code header).';
COMMENT ON COLUMN exception.field IS 'The offending field of a dead-lettered input (dlq.field header).';
COMMENT ON COLUMN exception.message IS 'Human-readable explanation in English (dead letters: dlq.message.en header).';
COMMENT ON COLUMN exception.source_topic IS 'Topic of the input (dead letters: dlq.source.topic header, else the event topic).';
COMMENT ON COLUMN exception.source_partition IS 'Partition of the input (dead letters: dlq.source.partition header, else the event''s).';
COMMENT ON COLUMN exception.source_offset IS 'Offset of the input (dead letters: dlq.source.offset header, else the event''s).';
