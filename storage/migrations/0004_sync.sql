-- 0004: indexes the sync component's readers need on the room server's tables
-- (the tables stay the room server's; sync only reads them).

-- A user's membership events in a room, in room order: history visibility
-- ("joined at any point after"), a leaver's view of the state, left rooms.
CREATE INDEX events_member_history ON events (room_id, state_key, room_seq)
    WHERE type = 'm.room.member';
