-- 0010: other servers' signing keys (the server_keys component owns this table).
--
-- server_keys: each remote key we fetched and verified, with the signed
-- `/_matrix/key/v2/server` answer it came in (the notary serves that answer
-- again, countersigned). `valid_until_ts` is the answer's own validity for a
-- current key, and its `expired_ts` for an old one (`expired` true); how far
-- it is trusted (at most 7 days after `fetched_ts`, room versions 5+) is
-- decided when reading.
CREATE TABLE server_keys (
    server_name     text NOT NULL,
    key_id          text NOT NULL,
    verify_key      text NOT NULL,
    valid_until_ts  bigint NOT NULL,
    expired         boolean NOT NULL,
    fetched_ts      bigint NOT NULL,
    key_response    jsonb NOT NULL,
    PRIMARY KEY (server_name, key_id)
);
