-- Projection "payments": every money movement of every order, its refunds, and the
-- daily settlement per channel and method.
CREATE TABLE payment (
    payment_id   uuid        PRIMARY KEY,
    order_id     uuid        NOT NULL,
    order_no     text        NOT NULL,
    channel      text        NOT NULL,
    currency     text        NOT NULL,
    tenders      jsonb       NOT NULL,
    refund_parts jsonb       NOT NULL,
    version      integer     NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX payment_order ON payment (order_id);
COMMENT ON TABLE payment IS 'The money book of one order (one Payment aggregate).';
COMMENT ON COLUMN payment.payment_id IS 'Payment aggregate id (deterministic from the order id).';
COMMENT ON COLUMN payment.order_id IS 'The order this money belongs to.';
COMMENT ON COLUMN payment.order_no IS 'Order number the shop shows.';
COMMENT ON COLUMN payment.channel IS 'Sales channel of the order (tmall, jd, web, pos...).';
COMMENT ON COLUMN payment.currency IS 'ISO 4217 code of every amount; amounts are in its minor units.';
COMMENT ON COLUMN payment.tenders IS 'Tender reference -> {method, provider_reference}: what the ledger rows of later events need.';
COMMENT ON COLUMN payment.refund_parts IS 'Refund id -> {tender: amount} as requested: what a later PaymentRefunded writes to the ledger.';
COMMENT ON COLUMN payment.version IS 'Aggregate version of the last event applied (guards against applying an event twice).';
COMMENT ON COLUMN payment.updated_at IS 'Timestamp of the last event applied.';

CREATE TABLE payment_ledger (
    payment_id         uuid        NOT NULL,
    version            integer     NOT NULL,
    tender             text        NOT NULL,
    order_id           uuid        NOT NULL,
    order_no           text        NOT NULL,
    channel            text        NOT NULL,
    method             text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('capture', 'refund')),
    amount             bigint      NOT NULL,
    currency           text        NOT NULL,
    provider_reference text        NOT NULL,
    refund_id          text,
    occurred_at        timestamptz NOT NULL,
    PRIMARY KEY (payment_id, version, tender)
);
CREATE INDEX payment_ledger_order ON payment_ledger (order_id);
CREATE INDEX payment_ledger_day ON payment_ledger (occurred_at);
COMMENT ON TABLE payment_ledger IS 'Every money movement of an order, signed, per tender; sums to the money held for the order.';
COMMENT ON COLUMN payment_ledger.payment_id IS 'Payment aggregate id.';
COMMENT ON COLUMN payment_ledger.version IS 'Version of the payment event that moved the money (with tender: the row''s identity, so a replay adds nothing).';
COMMENT ON COLUMN payment_ledger.tender IS 'Our reference of the tender (the provider''s out_trade_no).';
COMMENT ON COLUMN payment_ledger.order_id IS 'The order.';
COMMENT ON COLUMN payment_ledger.order_no IS 'Order number the shop shows.';
COMMENT ON COLUMN payment_ledger.channel IS 'Sales channel of the order.';
COMMENT ON COLUMN payment_ledger.method IS 'How the tender was paid: card, alipay, wechat_pay, cod.';
COMMENT ON COLUMN payment_ledger.kind IS 'capture (money in) or refund (money back).';
COMMENT ON COLUMN payment_ledger.amount IS 'Minor units, signed: positive captured, negative refunded.';
COMMENT ON COLUMN payment_ledger.currency IS 'ISO 4217 code.';
COMMENT ON COLUMN payment_ledger.provider_reference IS 'The provider''s id: of the trade for a capture, of the refund for a refund (manual: refunded by hand).';
COMMENT ON COLUMN payment_ledger.refund_id IS 'Our refund id (the providers'' idempotency key) for refund rows; NULL for captures.';
COMMENT ON COLUMN payment_ledger.occurred_at IS 'When the money moved (the event''s timestamp, UTC).';

CREATE TABLE refund (
    refund_id     text        PRIMARY KEY,
    payment_id    uuid        NOT NULL,
    order_id      uuid        NOT NULL,
    order_no      text        NOT NULL,
    reason        text        NOT NULL,
    amount        bigint      NOT NULL,
    currency      text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('requested', 'succeeded', 'failed')),
    failure       text,
    requested_at  timestamptz NOT NULL,
    settled_at    timestamptz,
    version       integer     NOT NULL
);
CREATE INDEX refund_order ON refund (order_id);
COMMENT ON TABLE refund IS 'One refund of an order, from request to the providers'' answer.';
COMMENT ON COLUMN refund.refund_id IS 'Our refund id; the providers'' idempotency key.';
COMMENT ON COLUMN refund.payment_id IS 'Payment aggregate id.';
COMMENT ON COLUMN refund.order_id IS 'The order.';
COMMENT ON COLUMN refund.order_no IS 'Order number the shop shows.';
COMMENT ON COLUMN refund.reason IS 'Why the money goes back.';
COMMENT ON COLUMN refund.amount IS 'The refund''s total, minor units.';
COMMENT ON COLUMN refund.currency IS 'ISO 4217 code.';
COMMENT ON COLUMN refund.status IS 'requested (asked of the providers), succeeded (money back), failed (refused; may be retried under a new id).';
COMMENT ON COLUMN refund.failure IS 'What the provider said when it refused; NULL otherwise.';
COMMENT ON COLUMN refund.requested_at IS 'When the refund was recorded (RefundRequested).';
COMMENT ON COLUMN refund.settled_at IS 'When the providers'' answer was recorded; NULL while requested.';
COMMENT ON COLUMN refund.version IS 'Payment version of the last event applied to this refund.';

-- Fees are not known yet (the providers' settlement files are not read): 0 until they are.
CREATE VIEW daily_settlement AS
SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day,
       channel,
       method,
       currency,
       sum(amount) FILTER (WHERE kind = 'capture')::bigint AS captured,
       coalesce(-sum(amount) FILTER (WHERE kind = 'refund'), 0)::bigint AS refunded,
       0::bigint AS fees,
       sum(amount)::bigint AS net
FROM payment_ledger
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW daily_settlement IS 'Money per UTC day, channel and method: what the providers should settle.';
COMMENT ON COLUMN daily_settlement.day IS 'UTC date the money moved.';
COMMENT ON COLUMN daily_settlement.channel IS 'Sales channel.';
COMMENT ON COLUMN daily_settlement.method IS 'Payment method of the tenders.';
COMMENT ON COLUMN daily_settlement.currency IS 'ISO 4217 code of the amounts.';
COMMENT ON COLUMN daily_settlement.captured IS 'Captured that day, minor units.';
COMMENT ON COLUMN daily_settlement.refunded IS 'Refunded that day, minor units (positive).';
COMMENT ON COLUMN daily_settlement.fees IS 'Provider fees, minor units; 0 until settlement files are read.';
COMMENT ON COLUMN daily_settlement.net IS 'captured - refunded - fees.';
