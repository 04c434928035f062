-- When each course's seat counter last changed (unix ms, the writer's clock): the live seat
-- board reads only the counters changed since its last read.
ALTER TABLE courses ADD COLUMN seats_changed_ms INTEGER NOT NULL DEFAULT 0;
