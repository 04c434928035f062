-- A student's newest tickets (GET /api/v1/tickets reads at most a page of them), read from the
-- index in order instead of sorting every ticket the student ever had.
DROP INDEX IF EXISTS ticket_decisions_student;
CREATE INDEX ticket_decisions_student ON ticket_decisions (student_id, generation, seq);
