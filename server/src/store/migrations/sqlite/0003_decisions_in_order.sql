-- The drain compares the highest decided sequence number of the queue's generation with
-- Redis's, to tell when Redis came back older than the database.
CREATE INDEX IF NOT EXISTS ticket_decisions_order ON ticket_decisions (generation, seq);
