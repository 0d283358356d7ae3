-- The key store of personal data (oms_events.privacy), in a folder of its own: applied
-- to its own schema (OMS_PRIVACY_SCHEMA_NAME, default oms_privacy), never to a
-- projection schema (oms db migrate, or the first process that seals). Keys
-- are wrapped by the master key kept outside the database; customers are named only by
-- HMACs of their phones and accounts. `oms customer forget` deletes keys here.
CREATE TABLE order_key (
    order_id     uuid        PRIMARY KEY,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    forgotten_at timestamptz
);
COMMENT ON TABLE order_key IS 'One AES-256 key per order sealing its personal fields (name, phone, account, street address) on Kafka.';
COMMENT ON COLUMN order_key.order_id IS 'Order aggregate id; sealed tokens name it (pii1:<order id>:...).';
COMMENT ON COLUMN order_key.wrapped_key IS 'The order key encrypted (AES-GCM) by the master key; NULL once the customer is forgotten, so the order''s tokens read [forgotten].';
COMMENT ON COLUMN order_key.created_at IS 'When the order''s first sealed record was written.';
COMMENT ON COLUMN order_key.forgotten_at IS 'When oms customer forget deleted the key; NULL while it exists.';

CREATE TABLE customer_order (
    identity bytea NOT NULL,
    order_id uuid  NOT NULL,
    PRIMARY KEY (identity, order_id)
);
COMMENT ON TABLE customer_order IS 'Which orders a customer placed, found by HMAC of a phone or account: what forget deletes.';
COMMENT ON COLUMN customer_order.identity IS 'HMAC-SHA256 (keyed by the master key) of the normalised phone or account; never the phone itself.';
COMMENT ON COLUMN customer_order.order_id IS 'An order of that customer; join order_key.';

CREATE TABLE order_alias (
    alias    uuid PRIMARY KEY,
    order_id uuid NOT NULL
);
COMMENT ON TABLE order_alias IS 'Ids whose personal fields are sealed with an order''s key: its shipments (a signer''s name), linked when its allocation is sealed.';
COMMENT ON COLUMN order_alias.alias IS 'Shipment id; sealed tokens name it.';
COMMENT ON COLUMN order_alias.order_id IS 'The order whose key seals it; join order_key.';

CREATE TABLE forgotten_customer (
    identity      bytea       NOT NULL,
    forgotten_at  timestamptz NOT NULL DEFAULT now(),
    orders        integer     NOT NULL,
    rows_redacted integer     NOT NULL,
    PRIMARY KEY (identity, forgotten_at)
);
COMMENT ON TABLE forgotten_customer IS 'Each oms customer forget: the proof it happened, without who it was.';
COMMENT ON COLUMN forgotten_customer.identity IS 'HMAC-SHA256 of the phone or account forgotten (as customer_order.identity).';
COMMENT ON COLUMN forgotten_customer.forgotten_at IS 'When it ran.';
COMMENT ON COLUMN forgotten_customer.orders IS 'Orders whose keys it deleted.';
COMMENT ON COLUMN forgotten_customer.rows_redacted IS 'Projection rows it redacted in that transaction.';

-- The run-time roles seal and open (read, insert; forget updates and deletes); the
-- analysts' role reads nothing here. Roles that do not exist (a database you bring)
-- are skipped: grant yours the same.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_writer') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO oms_writer', current_schema());
        GRANT SELECT, INSERT, UPDATE, DELETE
            ON order_key, customer_order, order_alias, forgotten_customer TO oms_writer;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_api') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO oms_api', current_schema());
        GRANT SELECT, INSERT ON order_key, customer_order, order_alias TO oms_api;
        REVOKE ALL ON forgotten_customer FROM oms_api;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_analyst') THEN
        REVOKE ALL ON order_key, customer_order, order_alias, forgotten_customer
            FROM oms_analyst;
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM oms_analyst', current_schema());
    END IF;
END $$;
