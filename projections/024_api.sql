-- The operator API's own tables: who may sign in, the channels' keys, the operator
-- commands sent over HTTP and the exceptions operators closed. Written by the API and
-- `oms user`, not folded from events: core owns them (migrate.CORE_FILES), so a
-- replay's swap never drops them (replay.KEPT).
CREATE TABLE api_user (
    username      text        PRIMARY KEY,
    password_hash text        NOT NULL,
    roles         text[]      NOT NULL CHECK (cardinality(roles) > 0),
    disabled      boolean     NOT NULL DEFAULT false,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE api_user IS 'Operators and integrations who sign in to the operator API (oms user add).';
COMMENT ON COLUMN api_user.username IS 'Sign-in name; the actor recorded on every write the user makes.';
COMMENT ON COLUMN api_user.password_hash IS 'argon2id hash (PHC string) of the password; the password itself is never stored.';
COMMENT ON COLUMN api_user.roles IS 'Roles: admin, customer_service, warehouse, analyst, channel.';
COMMENT ON COLUMN api_user.disabled IS 'True: sign-in and existing tokens are refused.';
COMMENT ON COLUMN api_user.created_by IS 'Who added the user (OS user of oms user add).';
COMMENT ON COLUMN api_user.created_at IS 'When the user was added or last changed.';

CREATE TABLE api_key (
    key_id     text        PRIMARY KEY,
    channel    text        NOT NULL,
    secret     text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
COMMENT ON TABLE api_key IS 'Channel integrations'' keys: requests to the intake are signed HMAC-SHA256 with the secret (oms user key).';
COMMENT ON COLUMN api_key.key_id IS 'Public key id, sent as X-OMS-Key.';
COMMENT ON COLUMN api_key.channel IS 'The one channel whose intake the key may post to.';
COMMENT ON COLUMN api_key.secret IS 'Shared HMAC secret (hex); the server needs it to verify, so it is stored as is: guard this table.';
COMMENT ON COLUMN api_key.created_by IS 'Who made the key.';
COMMENT ON COLUMN api_key.created_at IS 'When the key was made.';
COMMENT ON COLUMN api_key.revoked_at IS 'When the key was revoked; a revoked key is refused.';

CREATE TABLE api_command (
    command_id  uuid        PRIMARY KEY,
    action      text        NOT NULL,
    command     text        NOT NULL,
    order_id    uuid        NOT NULL,
    actor       text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('pending', 'applied', 'rejected')),
    reason      text,
    events      text[]      NOT NULL DEFAULT '{}',
    sent_at     timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz
);
CREATE INDEX api_command_order ON api_command (order_id, sent_at);
COMMENT ON TABLE api_command IS 'Operator commands sent through the API and the engine''s answer (GET /api/v1/commands/{id}).';
COMMENT ON COLUMN api_command.command_id IS 'The command''s id, also the command_id header of the events it caused.';
COMMENT ON COLUMN api_command.action IS 'The API action: cancel, hold, release, approve, reject, edit, refund, return.';
COMMENT ON COLUMN api_command.command IS 'The command type sent, e.g. HoldOrder.';
COMMENT ON COLUMN api_command.order_id IS 'The order acted on.';
COMMENT ON COLUMN api_command.actor IS 'The signed-in user who sent it.';
COMMENT ON COLUMN api_command.status IS 'pending (no answer yet), applied (events written) or rejected (a rule refused it).';
COMMENT ON COLUMN api_command.reason IS 'Why it was rejected (code: message), or why it is still pending.';
COMMENT ON COLUMN api_command.events IS 'Names of the events the command caused.';
COMMENT ON COLUMN api_command.sent_at IS 'When Kafka took the command.';
COMMENT ON COLUMN api_command.answered_at IS 'When the engine''s answer was read.';

CREATE TABLE exception_resolution (
    exception_id text        PRIMARY KEY,
    action       text        NOT NULL CHECK (action IN ('resolved', 'redriven')),
    note         text        NOT NULL,
    actor        text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE exception_resolution IS 'Exceptions an operator closed (the inbox hides them); the exceptions projection keeps the exception itself.';
COMMENT ON COLUMN exception_resolution.exception_id IS 'exception.exception_id it closes.';
COMMENT ON COLUMN exception_resolution.action IS 'resolved (handled by hand) or redriven (a dead letter re-published to its topic).';
COMMENT ON COLUMN exception_resolution.note IS 'What the operator did, in their words.';
COMMENT ON COLUMN exception_resolution.actor IS 'Who closed it.';
COMMENT ON COLUMN exception_resolution.at IS 'When it was closed.';
