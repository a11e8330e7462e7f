-- 0008: what the room server keeps for events that came over federation.

-- room_server: the state group of each room's current state. After a remote
-- event is accepted the current state is the resolution of every forward
-- extremity's state, which need not be the state after the newest event.
ALTER TABLE rooms ADD COLUMN state_group bigint;

-- room_server: an event that passed auth against its own state but not
-- against the room's current state ("soft failure"). Such events are stored
-- as outliers (no reader shows them) but keep their state groups, so later
-- events citing them as prev_events resolve correctly.
ALTER TABLE events ADD COLUMN soft_failed boolean NOT NULL DEFAULT false;

