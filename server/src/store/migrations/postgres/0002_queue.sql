-- The waiting queue's durable side: the drain's fence, generations, the operator's settings,
-- and every decision the drain made.

-- One row. `epoch` is the highest lease epoch that committed a drain batch: a batch with a lower
-- epoch is refused, so a drainer that lost its lease cannot commit. `generation` numbers the
-- queue's state; it grows each time the state is rebuilt after a loss.
CREATE TABLE queue_state (
    id             SMALLINT PRIMARY KEY CHECK (id = 1),
    epoch          BIGINT   NOT NULL DEFAULT 0,
    generation     BIGINT   NOT NULL DEFAULT 0,
    -- Unix ms; NULL means registration is open.
    opens_at_ms    BIGINT,
    paused         BOOLEAN  NOT NULL DEFAULT FALSE,
    -- Admissions per second across all processes; 0 means no limit.
    admission_rate INTEGER  NOT NULL DEFAULT 0 CHECK (admission_rate >= 0),
    mode           TEXT     NOT NULL DEFAULT 'queue' CHECK (mode IN ('queue', 'direct'))
);
INSERT INTO queue_state (id) VALUES (1);

-- Every ticket the drain decided, written in the batch's transaction. The primary key makes a
-- replayed batch (a crash between commit and acknowledgement) a no-op.
CREATE TABLE ticket_decisions (
    ticket_id      TEXT     PRIMARY KEY,
    generation     BIGINT   NOT NULL,
    seq            BIGINT   NOT NULL,
    student_id     BIGINT   NOT NULL REFERENCES students (id),
    course_id      BIGINT   NOT NULL,
    state          TEXT     NOT NULL,
    code           TEXT,
    admitted_at_ms BIGINT   NOT NULL,
    decided_at_ms  BIGINT   NOT NULL,
    epoch          BIGINT   NOT NULL
);
CREATE INDEX ticket_decisions_student ON ticket_decisions (student_id);
CREATE INDEX ticket_decisions_course ON ticket_decisions (course_id, generation, seq);

-- The ticket an enrollment came from (NULL on the direct path); never two rows per ticket.
ALTER TABLE enrollments ADD COLUMN ticket_id TEXT;
CREATE UNIQUE INDEX enrollments_ticket ON enrollments (ticket_id);
