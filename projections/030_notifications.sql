-- Projection "notifications": what customers, webhook subscribers and sales channels are
-- told about an order, planned exactly once per event (rows and offsets in one
-- transaction) and delivered at least once by `oms notify run` with an idempotency key.
-- Not replayable (`oms replay` refuses it): a rebuild would plan every message again.
CREATE TABLE notify_order (
    order_id      uuid        PRIMARY KEY,
    order_no      text        NOT NULL,
    channel       text        NOT NULL,
    external_id   text        NOT NULL,
    customer_name text        NOT NULL,
    phone         text,
    email         text,
    account       text,
    locale        text        NOT NULL CHECK (locale IN ('zh', 'en')),
    placed_at     timestamptz NOT NULL
);
COMMENT ON TABLE notify_order IS 'Who to tell about an order and in which language, from OrderPlaced.';
COMMENT ON COLUMN notify_order.order_id IS 'Order aggregate id.';
COMMENT ON COLUMN notify_order.order_no IS 'Order number the customer sees in every message.';
COMMENT ON COLUMN notify_order.channel IS 'Sales channel (web, tmall, jd, ...): where channel feedback goes.';
COMMENT ON COLUMN notify_order.external_id IS 'The order id at the channel (tid at Tmall, orderId at JD, order id at Shopify).';
COMMENT ON COLUMN notify_order.customer_name IS 'Customer name as the channel gave it (greeting).';
COMMENT ON COLUMN notify_order.phone IS 'Phone for SMS; null when the channel sent the receiver masked (not dialable).';
COMMENT ON COLUMN notify_order.email IS 'Email for mail: the account when it is an address (web shop orders), else null.';
COMMENT ON COLUMN notify_order.account IS 'Customer account at the channel (an opt-out may name it).';
COMMENT ON COLUMN notify_order.locale IS 'Language of messages: zh for a delivery in CN, en elsewhere.';
COMMENT ON COLUMN notify_order.placed_at IS 'When the order was placed.';

CREATE TABLE notify_parcel (
    shipment_id uuid PRIMARY KEY,
    order_id    uuid NOT NULL,
    carrier     text,
    tracking_no text
);
COMMENT ON TABLE notify_parcel IS 'Which order a shipment belongs to (ShipmentCreated) and its waybill (ShipmentShipped).';
COMMENT ON COLUMN notify_parcel.shipment_id IS 'Shipment aggregate id.';
COMMENT ON COLUMN notify_parcel.order_id IS 'The order it ships.';
COMMENT ON COLUMN notify_parcel.carrier IS 'Carrier code (SF, JD, ZTO), once shipped.';
COMMENT ON COLUMN notify_parcel.tracking_no IS 'Waybill (tracking) number, once shipped.';

CREATE TABLE notify_return (
    return_id uuid PRIMARY KEY,
    order_id  uuid NOT NULL,
    return_no text NOT NULL
);
COMMENT ON TABLE notify_return IS 'Which order a return belongs to (ReturnRequested).';
COMMENT ON COLUMN notify_return.return_id IS 'Return aggregate id.';
COMMENT ON COLUMN notify_return.order_id IS 'The order returned.';
COMMENT ON COLUMN notify_return.return_no IS 'Return number (RMA) the customer sees.';

CREATE TABLE notify_step (
    event_key   text        PRIMARY KEY,
    step        text        NOT NULL,
    order_id    uuid,
    shipment_id uuid,
    return_id   uuid,
    facts       jsonb       NOT NULL,
    source      text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    planned     boolean     NOT NULL DEFAULT false
);
CREATE INDEX notify_step_unplanned ON notify_step (occurred_at) WHERE NOT planned;
COMMENT ON TABLE notify_step IS 'One customer-facing step of an order per event; planned into notification rows once its order is known (events of other aggregates can arrive first).';
COMMENT ON COLUMN notify_step.event_key IS 'The event: aggregate id and version (<uuid>/<version>).';
COMMENT ON COLUMN notify_step.step IS 'confirmed, shipped, out_for_delivery, delivered, delayed, refund_issued or return_received.';
COMMENT ON COLUMN notify_step.order_id IS 'The order, when the event names it.';
COMMENT ON COLUMN notify_step.shipment_id IS 'The shipment, for shipment events (resolved to the order through notify_parcel).';
COMMENT ON COLUMN notify_step.return_id IS 'The return, for return events (resolved through notify_return).';
COMMENT ON COLUMN notify_step.facts IS 'What the templates need from the event (carrier, tracking number, amount, reason, eta).';
COMMENT ON COLUMN notify_step.source IS 'Where the event was read: topic/partition/offset (named in dead letters).';
COMMENT ON COLUMN notify_step.occurred_at IS 'Event time.';
COMMENT ON COLUMN notify_step.planned IS 'True once its notification rows exist.';

CREATE TABLE notification (
    key             text        PRIMARY KEY,
    event_key       text        NOT NULL,
    step            text        NOT NULL,
    order_id        uuid        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('email', 'sms', 'webhook', 'feed')),
    recipient       text        NOT NULL,
    locale          text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'sent', 'dead', 'skipped')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz
);
CREATE INDEX notification_due ON notification (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_order ON notification (order_id);
COMMENT ON TABLE notification IS 'One message per (event, channel, recipient): the idempotency ledger of the notifier. A row is sent, then marked sent in the same database transaction that held it locked.';
COMMENT ON COLUMN notification.key IS 'Idempotency key <event_key>:<channel>:<recipient>; the Message-ID of a mail, the Idempotency-Key header of a webhook, the SMS request id, the idempotency-key header of channel feedback.';
COMMENT ON COLUMN notification.event_key IS 'The event (notify_step.event_key).';
COMMENT ON COLUMN notification.step IS 'The step (notify_step.step).';
COMMENT ON COLUMN notification.order_id IS 'The order.';
COMMENT ON COLUMN notification.channel IS 'email, sms, webhook (a subscriber) or feed (the sales channel''s outbound topic).';
COMMENT ON COLUMN notification.recipient IS 'Email address, phone, subscriber id or sales channel; logs show it masked.';
COMMENT ON COLUMN notification.locale IS 'zh or en.';
COMMENT ON COLUMN notification.subject IS 'Mail subject (empty for other channels).';
COMMENT ON COLUMN notification.body IS 'Text of the mail or SMS; JSON for webhooks and channel feedback.';
COMMENT ON COLUMN notification.status IS 'pending, sent, dead (dead-lettered after the last attempt) or skipped (opted out, subscriber gone).';
COMMENT ON COLUMN notification.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN notification.next_attempt_at IS 'Not tried again before this (backoff doubling up to OMS_NOTIFIER_RETRY_CAP_S).';
COMMENT ON COLUMN notification.last_error IS 'Why the last attempt failed.';
COMMENT ON COLUMN notification.created_at IS 'When it was planned.';
COMMENT ON COLUMN notification.settled_at IS 'When it was sent, dead-lettered or skipped.';

CREATE TABLE notify_subscriber (
    subscriber_id text        PRIMARY KEY,
    url           text        NOT NULL,
    secret        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE notify_subscriber IS 'Webhook subscribers (oms notify subscribe): every step of every order is posted to each, signed.';
COMMENT ON COLUMN notify_subscriber.subscriber_id IS 'Name the operator gave the subscriber.';
COMMENT ON COLUMN notify_subscriber.url IS 'Where the JSON is POSTed.';
COMMENT ON COLUMN notify_subscriber.secret IS 'HMAC-SHA256 key of X-OMS-Signature (shared with the subscriber).';
COMMENT ON COLUMN notify_subscriber.created_at IS 'When it subscribed.';

CREATE TABLE notify_opt_out (
    customer   text        NOT NULL,
    channel    text        NOT NULL CHECK (channel IN ('email', 'sms', 'all')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer, channel)
);
COMMENT ON TABLE notify_opt_out IS 'Customers who asked not to be told (oms customer opt-out); checked before every send.';
COMMENT ON COLUMN notify_opt_out.customer IS 'Phone, email or channel account of the customer.';
COMMENT ON COLUMN notify_opt_out.channel IS 'email, sms or all.';
COMMENT ON COLUMN notify_opt_out.created_at IS 'When the customer opted out.';

CREATE TABLE notify_stock_sync (
    sku       text        PRIMARY KEY,
    available bigint      NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE notify_stock_sync IS 'Available stock per sku last published for the channels'' stock sync (库存同步); a sku whose inventory_level sum differs is published again.';
COMMENT ON COLUMN notify_stock_sync.sku IS 'Stock keeping unit.';
COMMENT ON COLUMN notify_stock_sync.available IS 'Units available over every location when last published (never below 0).';
COMMENT ON COLUMN notify_stock_sync.synced_at IS 'When it was last published.';
