-- 0009: the federation sender's durable state (per-destination queues,
-- transactions in flight, backoff) and the record of received transactions.
-- Every table here is owned by the federation_sender component, except that
-- federation_forward is written on its behalf by the room server (through
-- actors/federation_sender/forwarding.py) inside the transaction persisting
-- the event, so a forwarded event is never persisted without its mark.

-- federation_sender: per sender shard and room-server writer, the stream
-- position up to which every event has been queued for its destinations.
CREATE TABLE federation_stream_positions (
    shard   int NOT NULL,
    writer  int NOT NULL,
    pos     bigint NOT NULL,
    PRIMARY KEY (shard, writer)
);

-- federation_sender (written by the room server): events of other servers
-- that arrived through send_join/send_leave/send_knock served by us, which we
-- must pass on to the room's other servers (but not back to `origin`).
CREATE TABLE federation_forward (
    event_id  text PRIMARY KEY,
    origin    text NOT NULL
);

-- federation_sender: PDUs waiting for each destination, in queue order.
CREATE TABLE federation_pdu_queue (
    destination  text NOT NULL,
    id           bigserial,
    event_id     text NOT NULL,
    room_id      text NOT NULL,
    PRIMARY KEY (destination, id),
    UNIQUE (destination, event_id)
);

-- federation_sender: EDUs waiting for each destination, in queue order.
CREATE TABLE federation_edu_queue (
    destination  text NOT NULL,
    id           bigserial,
    edu_type     text NOT NULL,
    content      jsonb NOT NULL,
    PRIMARY KEY (destination, id)
);

-- federation_sender: the one transaction in flight to each destination. A
-- retry sends exactly this body under this txn_id; the queue rows it holds
-- are deleted with it once the destination answers 200.
CREATE TABLE federation_outgoing_txns (
    destination  text PRIMARY KEY,
    txn_id       text NOT NULL,
    pdu_ids      bigint[] NOT NULL,
    edu_ids      bigint[] NOT NULL,
    body         jsonb NOT NULL
);

-- federation_sender: how often sending to a destination failed in a row, and
-- when to try again (epoch ms).
CREATE TABLE federation_destinations (
    destination  text PRIMARY KEY,
    failures     int NOT NULL,
    retry_at_ms  bigint NOT NULL
);

-- federation_sender: the answer to each transaction received, so a retried
-- PUT /send/{txnId} gets the same answer without being processed again.
CREATE TABLE federation_incoming_txns (
    origin      text NOT NULL,
    txn_id      text NOT NULL,
    response    jsonb NOT NULL,
    created_ts  bigint NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
