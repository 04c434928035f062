-- When each course's seat counter last changed (unix ms, the writer's clock): the live seat
-- board reads only the counters changed since its last read. Not indexed, so a seat taken stays
-- a HOT update; the read filters the table where it lies instead of sending every row.
ALTER TABLE courses ADD COLUMN seats_changed_ms BIGINT NOT NULL DEFAULT 0;
