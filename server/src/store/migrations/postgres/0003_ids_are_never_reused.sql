-- A decision is a record of what happened, kept even when its student is gone: the drain must
-- be able to write `STUDENT_NOT_FOUND` for a ticket whose student was deleted.
ALTER TABLE ticket_decisions DROP CONSTRAINT IF EXISTS ticket_decisions_student_id_fkey;
-- (Student ids are never reused: `classmate seed --reset` empties the tables without restarting
-- their identities, so a token issued before a reset cannot act as a new student.)
