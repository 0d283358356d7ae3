-- Projection "payments", continued: daily_settlement cuts days at the shop's business
-- midnight (OMS_ANALYTICS_TIMEZONE, Asia/Shanghai by default), not at UTC midnight
-- (08:00 in China), so a day's settlement matches the day the shop books.
--
-- Its own one-row calendar, not the analytics projection's business_calendar: a replay
-- of analytics swaps its tables in with DROP ... CASCADE, which would take this view
-- along. oms db migrate, oms replay and oms report write every calendar from the same
-- setting in one call (analytics/calendar.py set_timezone).
CREATE TABLE payment_calendar (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    timezone text    NOT NULL
);
COMMENT ON TABLE payment_calendar IS 'One row: the time zone of the shop''s business day for the payment views (settings analytics.timezone).';
COMMENT ON COLUMN payment_calendar.one IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN payment_calendar.timezone IS 'IANA time zone name, e.g. Asia/Shanghai; days start at its midnight.';
INSERT INTO payment_calendar (timezone) VALUES ('Asia/Shanghai');

CREATE OR REPLACE VIEW daily_settlement AS
SELECT (l.occurred_at AT TIME ZONE c.timezone)::date AS day,
       l.channel,
       l.method,
       l.currency,
       sum(l.amount) FILTER (WHERE l.kind = 'capture')::bigint AS captured,
       coalesce(-sum(l.amount) FILTER (WHERE l.kind = 'refund'), 0)::bigint AS refunded,
       0::bigint AS fees,
       sum(l.amount)::bigint AS net
FROM payment_ledger l CROSS JOIN payment_calendar c
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW daily_settlement IS 'Money per business day (payment_calendar time zone), channel and method: what the providers should settle.';
COMMENT ON COLUMN daily_settlement.day IS 'Business day the money moved (date in the shop''s time zone).';
