-- The API's tables and the roles of `oms dev up` (oms_events.devservices.postgres_roles),
-- which read every table by default privilege: the API's role (oms_api) writes these
-- tables and no other; the analysts' read-only role loses the API's secrets (password
-- hashes, the channel keys' HMAC secrets). Roles that do not exist (a database you
-- bring) are skipped: grant yours the same.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_api') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE
            ON api_user, api_key, api_command, exception_resolution TO oms_api;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_analyst') THEN
        REVOKE ALL ON api_user, api_key FROM oms_analyst;
    END IF;
END $$;
