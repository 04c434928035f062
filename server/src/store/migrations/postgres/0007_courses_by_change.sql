-- The search index follows the catalog by when each course last changed.
CREATE INDEX courses_changed ON courses (updated_at, id);
