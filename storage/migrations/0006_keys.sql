-- 0006: end-to-end encryption keys (the keys component owns every table here).
-- Keys are kept as the signed JSON the client uploaded: clients verify the
-- signatures themselves, so the server must hand back exactly what was signed.

-- keys: the identity keys of each device (the `DeviceKeys` object without
-- `unsigned`). A row whose device no longer exists in `devices` is never
-- served; the keys component deletes it when told of the deletion.
CREATE TABLE device_keys (
    user_id      text NOT NULL,
    device_id    text NOT NULL,
    key_json     jsonb NOT NULL,
    updated_ts   bigint NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- keys: unclaimed one-time keys. `id` is the upload order: claims hand out
-- the oldest first (keys of one upload have no order among themselves).
CREATE TABLE one_time_keys (
    id          bigserial PRIMARY KEY,
    user_id     text NOT NULL,
    device_id   text NOT NULL,
    algorithm   text NOT NULL,
    key_id      text NOT NULL,
    key_json    jsonb NOT NULL,
    UNIQUE (user_id, device_id, algorithm, key_id)
);
CREATE INDEX one_time_keys_claim ON one_time_keys (user_id, device_id, algorithm, id);

-- keys: the one fallback key per device and algorithm; `used` once a claim
-- handed it out (cleared when a different key replaces it).
CREATE TABLE fallback_keys (
    user_id     text NOT NULL,
    device_id   text NOT NULL,
    algorithm   text NOT NULL,
    key_id      text NOT NULL,
    key_json    jsonb NOT NULL,
    used        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- keys: each user's cross-signing keys (`usage` is master, self_signing or
-- user_signing); `public_key` is the unpadded base64 ed25519 key.
CREATE TABLE cross_signing_keys (
    user_id     text NOT NULL,
    usage       text NOT NULL,
    public_key  text NOT NULL,
    key_json    jsonb NOT NULL,
    updated_ts  bigint NOT NULL,
    PRIMARY KEY (user_id, usage)
);

-- keys: signatures uploaded through /keys/signatures/upload, merged into the
-- signed object when it is served. `target_key` is a device ID or a master
-- key's public key. Who may see which signature is decided when serving.
CREATE TABLE key_signatures (
    signer_user   text NOT NULL,
    signer_key    text NOT NULL,
    target_user   text NOT NULL,
    target_key    text NOT NULL,
    signature     text NOT NULL,
    PRIMARY KEY (target_user, target_key, signer_user, signer_key)
);

-- keys: the device-list stream (position `stream_positions.device_lists`).
-- A row says: `user_id`'s devices or cross-signing keys changed at `stream_pos`.
-- `visible_to` NULL means every user sharing a room with `user_id` is told;
-- otherwise only that user (a signature by their user-signing key, which no
-- one else may see).
CREATE TABLE device_list_changes (
    stream_pos  bigint NOT NULL,
    user_id     text NOT NULL,
    visible_to  text
);
CREATE INDEX device_list_changes_stream ON device_list_changes (stream_pos);
CREATE INDEX device_list_changes_user ON device_list_changes (user_id, stream_pos);

-- keys: server-side key backup versions. Versions count up per user and are
-- never reused: a deleted one keeps its row (`deleted`) so deleting it again
-- succeeds. `etag` changes with every change to the backup's keys.
CREATE TABLE key_backup_versions (
    user_id     text NOT NULL,
    version     bigint NOT NULL,
    algorithm   text NOT NULL,
    auth_data   jsonb NOT NULL,
    etag        bigint NOT NULL DEFAULT 0,
    deleted     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, version)
);

-- keys: the room keys stored in a backup version.
CREATE TABLE key_backup_sessions (
    user_id              text NOT NULL,
    version              bigint NOT NULL,
    room_id              text NOT NULL,
    session_id           text NOT NULL,
    first_message_index  bigint NOT NULL,
    forwarded_count      bigint NOT NULL,
    is_verified          boolean NOT NULL,
    session_data         jsonb NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);
