-- The API's secrets (password hashes, the channel keys' HMAC secrets) are the API's
-- alone: the analysts' read-only role of `oms dev up` (oms_events.devservices.
-- postgres_roles), which reads every other table by default privilege, loses them.
-- A database you bring: grant your analysts SELECT on the schema except these two.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_analyst') THEN
        REVOKE ALL ON api_user, api_key FROM oms_analyst;
    END IF;
END $$;
