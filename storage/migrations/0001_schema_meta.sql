-- 0001: facts about this server that outlive any process, as key -> JSON
-- (for example the server name a database was set up for, so a homeserver
-- can refuse to start against a database that belongs to another one).
-- Later migrations add the real schema, one numbered file each.
CREATE TABLE server_meta (
    key   text PRIMARY KEY,
    value jsonb NOT NULL
);
