-- The homeserver's core tables. Each table has one owning component that
-- writes it (named in the comment above it); any component may read it.

-- accounts: local user accounts.
CREATE TABLE users (
    user_id        text PRIMARY KEY,
    password_hash  text,
    created_ts     bigint NOT NULL,
    is_admin       boolean NOT NULL DEFAULT false,
    deactivated    boolean NOT NULL DEFAULT false
);

-- accounts: devices of local users.
CREATE TABLE devices (
    user_id       text NOT NULL,
    device_id     text NOT NULL,
    display_name  text,
    created_ts    bigint NOT NULL,
    last_seen_ts  bigint,
    last_seen_ip  text,
    PRIMARY KEY (user_id, device_id)
);

-- accounts: access tokens, stored as SHA-256 digests only.
CREATE TABLE access_tokens (
    token_hash   bytea PRIMARY KEY,
    user_id      text NOT NULL,
    device_id    text NOT NULL,
    created_ts   bigint NOT NULL,
    expires_ts   bigint,
    refresh_id   bigint
);
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);

-- accounts: refresh tokens; a used one stays until its successor is used.
CREATE TABLE refresh_tokens (
    id           bigserial PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,
    user_id      text NOT NULL,
    device_id    text NOT NULL,
    created_ts   bigint NOT NULL
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (user_id, device_id);

-- accounts: user-interactive authentication sessions.
CREATE TABLE uia_sessions (
    session_id   text PRIMARY KEY,
    created_ts   bigint NOT NULL,
    user_id      text,
    completed    jsonb NOT NULL DEFAULT '[]',
    params       jsonb NOT NULL DEFAULT '{}'
);

-- accounts: single-use nonces of the shared-secret registration API.
CREATE TABLE registration_nonces (
    nonce       text PRIMARY KEY,
    created_ts  bigint NOT NULL
);

-- accounts: profiles of local users.
CREATE TABLE profiles (
    user_id      text PRIMARY KEY,
    displayname  text,
    avatar_url   text
);

-- sync: filters uploaded by clients.
CREATE TABLE filters (
    user_id     text NOT NULL,
    filter_id   bigint NOT NULL,
    definition  jsonb NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);

-- room_server: one row per room.
CREATE TABLE rooms (
    room_id       text PRIMARY KEY,
    room_version  text NOT NULL,
    creator       text NOT NULL,
    created_ts    bigint NOT NULL
);

-- room_server: the stream position of each writer (room-server shard). A
-- writer takes the next position with UPDATE ... RETURNING inside the
-- transaction that persists the event, so its positions commit in order and
-- the committed positions of a writer are always a prefix.
CREATE TABLE writer_positions (
    writer  int PRIMARY KEY,
    pos     bigint NOT NULL
);

-- room_server: every event this server knows, in its federation (PDU) form.
CREATE TABLE events (
    event_id         text PRIMARY KEY,
    room_id          text NOT NULL,
    writer           int NOT NULL,
    stream_pos       bigint NOT NULL,
    -- The room's own order: what /messages pages through.
    room_seq         bigint NOT NULL,
    type             text NOT NULL,
    state_key        text,
    sender           text NOT NULL,
    depth            bigint NOT NULL,
    origin_server_ts bigint NOT NULL,
    pdu              jsonb NOT NULL,
    state_before     bigint,
    state_after      bigint,
    rejected_reason  text,
    outlier          boolean NOT NULL DEFAULT false,
    redacted_by      text,
    -- For state events: the event this one replaced in the room's state
    -- (clients get its content as unsigned.prev_content).
    replaces_state   text,
    -- Local-only data for the sender's own client (transaction_id).
    txn_id           text,
    sender_device    text,
    UNIQUE (writer, stream_pos),
    UNIQUE (room_id, room_seq)
);
CREATE INDEX events_stream ON events (room_id, writer, stream_pos);
CREATE INDEX events_redacts ON events ((pdu->>'redacts'));

-- room_server: relations kept separate so clients can page through them.
CREATE TABLE event_relations (
    event_id      text PRIMARY KEY,
    relates_to    text NOT NULL,
    rel_type      text NOT NULL
);
CREATE INDEX event_relations_target ON event_relations (relates_to, rel_type);

-- room_server: idempotency of client sends per device.
CREATE TABLE event_txns (
    user_id     text NOT NULL,
    device_id   text NOT NULL,
    txn_id      text NOT NULL,
    room_id     text NOT NULL,
    event_id    text NOT NULL,
    created_ts  bigint NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);

-- room_server: state groups. A group is its parent's state plus a delta; every
-- few levels a group is a full snapshot (prev_group NULL) to bound lookups.
CREATE TABLE state_groups (
    id          bigserial PRIMARY KEY,
    room_id     text NOT NULL,
    prev_group  bigint REFERENCES state_groups (id),
    chain_len   int NOT NULL
);
CREATE TABLE state_group_entries (
    state_group  bigint NOT NULL REFERENCES state_groups (id),
    type         text NOT NULL,
    state_key    text NOT NULL,
    event_id     text NOT NULL,
    PRIMARY KEY (state_group, type, state_key)
);

-- room_server: the current state of each room.
CREATE TABLE current_state (
    room_id     text NOT NULL,
    type        text NOT NULL,
    state_key   text NOT NULL,
    event_id    text NOT NULL,
    -- For m.room.member rows: the membership, to find a user's rooms fast.
    membership  text,
    PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_members ON current_state (state_key, room_id)
    WHERE type = 'm.room.member';

-- room_server: the room's forward extremities (the events with no children).
CREATE TABLE forward_extremities (
    room_id   text NOT NULL,
    event_id  text NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- room_server: room aliases on this server.
CREATE TABLE room_aliases (
    alias       text PRIMARY KEY,
    room_id     text NOT NULL,
    creator     text NOT NULL,
    created_ts  bigint NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- room_server: the public room directory.
CREATE TABLE room_directory (
    room_id     text PRIMARY KEY,
    visibility  text NOT NULL
);

-- room_server: rooms a user has forgotten.
CREATE TABLE forgotten_rooms (
    user_id  text NOT NULL,
    room_id  text NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
