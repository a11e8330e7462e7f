-- 0005: the sync streams besides room events (account data, receipts,
-- presence, to-device, device lists), and the tables of their owners.

-- Shared by the stream owners: the committed position of each stream. A
-- writer takes its next position with UPDATE ... RETURNING inside the
-- transaction that writes the stream's rows (storage/stream_positions.py), so
-- the row lock orders the commits and every position up to `pos` is visible.
-- Each row is written only by the component that owns that stream:
-- account_data and to_device by accounts, receipts by receipts, presence by
-- presence, device_lists by the keys owner. (Typing is memory only.)
CREATE TABLE stream_positions (
    stream  text PRIMARY KEY,
    pos     bigint NOT NULL
);
INSERT INTO stream_positions (stream, pos) VALUES
    ('account_data', 0), ('receipts', 0), ('presence', 0), ('to_device', 0),
    ('device_lists', 0);

-- accounts: account data, global (room_id '') and per room, the latest
-- content of each type. Room tags are the room's m.tag; m.fully_read is
-- written here on behalf of the receipts component.
CREATE TABLE account_data (
    user_id     text NOT NULL,
    room_id     text NOT NULL,
    type        text NOT NULL,
    content     jsonb NOT NULL,
    stream_pos  bigint NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_pos);

-- receipts: the latest receipt of each user per room, type and thread
-- (thread_id '' for an unthreaded receipt). room_seq is the receipted
-- event's place in the room's order: receipts only move forward.
CREATE TABLE receipts (
    room_id       text NOT NULL,
    receipt_type  text NOT NULL,
    user_id       text NOT NULL,
    thread_id     text NOT NULL,
    event_id      text NOT NULL,
    room_seq      bigint NOT NULL,
    ts            bigint NOT NULL,
    stream_pos    bigint NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_stream ON receipts (room_id, stream_pos);

-- presence: the last presence of each user who ever had one.
CREATE TABLE presence (
    user_id           text PRIMARY KEY,
    state             text NOT NULL,
    status_msg        text,
    last_active_ts    bigint NOT NULL,
    -- When the user's last /sync is expected to end (0: never synced); the
    -- user goes offline some time after it unless they sync again.
    sync_until_ts     bigint NOT NULL DEFAULT 0,
    stream_pos        bigint NOT NULL
);
CREATE INDEX presence_stream ON presence (stream_pos);
CREATE INDEX presence_not_offline ON presence (user_id) WHERE state <> 'offline';

-- accounts: the to-device inbox of each local device, one position per message.
CREATE TABLE to_device_inbox (
    user_id     text NOT NULL,
    device_id   text NOT NULL,
    stream_pos  bigint NOT NULL,
    sender      text NOT NULL,
    type        text NOT NULL,
    content     jsonb NOT NULL,
    PRIMARY KEY (user_id, device_id, stream_pos)
);

-- accounts: sendToDevice transactions already applied, per sender device.
CREATE TABLE to_device_txns (
    user_id     text NOT NULL,
    device_id   text NOT NULL,
    txn_id      text NOT NULL,
    created_ts  bigint NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
