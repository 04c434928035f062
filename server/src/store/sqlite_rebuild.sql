-- Run by sqlite.rs once on a database whose student ids could be reused, in one transaction
-- with foreign keys off, as SQLite's documentation prescribes for changing a table's shape
-- (sqlx runs its migrations inside a transaction, where foreign keys cannot be turned off).
--
-- Student ids are never reused (AUTOINCREMENT), so a token issued before `classmate seed
-- --reset` cannot act as a new student who got the same id; and a decision is kept even when
-- its student is gone (no foreign key), so the drain can write `STUDENT_NOT_FOUND`.

CREATE TABLE students_rebuilt (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    student_number TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    department     TEXT    NOT NULL,
    year           INTEGER NOT NULL CHECK (year BETWEEN 1 AND 6),
    password_hash  TEXT    NOT NULL,
    created_at     TEXT    NOT NULL
);
INSERT INTO students_rebuilt (id, student_number, name, department, year, password_hash, created_at)
    SELECT id, student_number, name, department, year, password_hash, created_at FROM students;
DROP TABLE students;
ALTER TABLE students_rebuilt RENAME TO students;

CREATE TABLE ticket_decisions_rebuilt (
    ticket_id      TEXT     PRIMARY KEY,
    generation     INTEGER  NOT NULL,
    seq            INTEGER  NOT NULL,
    student_id     INTEGER  NOT NULL,
    course_id      INTEGER  NOT NULL,
    state          TEXT     NOT NULL,
    code           TEXT,
    admitted_at_ms INTEGER  NOT NULL,
    decided_at_ms  INTEGER  NOT NULL,
    epoch          INTEGER  NOT NULL
);
INSERT INTO ticket_decisions_rebuilt SELECT ticket_id, generation, seq, student_id, course_id,
    state, code, admitted_at_ms, decided_at_ms, epoch FROM ticket_decisions;
DROP TABLE ticket_decisions;
ALTER TABLE ticket_decisions_rebuilt RENAME TO ticket_decisions;
-- A student's newest tickets, read without sorting all of them.
CREATE INDEX ticket_decisions_student ON ticket_decisions (student_id, generation, seq);
CREATE INDEX ticket_decisions_course ON ticket_decisions (course_id, generation, seq);
-- For the drain's comparison of the queue's sequence numbers with the database's.
CREATE INDEX IF NOT EXISTS ticket_decisions_order ON ticket_decisions (generation, seq);
