-- 0007: the search component's durable record of its indexes.

-- search: the index each search shard has built (the ID in its folder's
-- marker). A shard whose folder holds another ID (deleted, replaced, rebuilt,
-- or built against another database) starts its watermark again from zero.
CREATE TABLE search_indexes (
    shard     int PRIMARY KEY,
    index_id  text NOT NULL
);

-- search: per shard and room-server writer, the stream position up to which
-- every searchable event of the shard's rooms is in its committed index.
CREATE TABLE search_positions (
    shard   int NOT NULL,
    writer  int NOT NULL,
    pos     bigint NOT NULL,
    PRIMARY KEY (shard, writer)
);
