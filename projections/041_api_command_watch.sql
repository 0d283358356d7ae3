-- Where the answer to an operator command is to be read from, so a restarted API
-- server watches again for the commands still pending (oms_events.api.commands).
ALTER TABLE api_command ADD COLUMN watch_from jsonb;
COMMENT ON COLUMN api_command.watch_from IS 'Offsets ("topic:partition" -> offset) of the events and replies topics noted before the command was sent; the answer is read from there, also by a restarted server.';
