-- Each course in a cart holds one of the student's numbered slots (0 to the cart limit less
-- one), unique per student. Adding to a cart is then one statement that takes the lowest free
-- slot below the limit: two adds racing for the same slot cannot both commit, so the limit holds
-- without locking the student.
ALTER TABLE cart_items ADD COLUMN slot INTEGER NOT NULL DEFAULT 0 CHECK (slot >= 0);
UPDATE cart_items SET slot = (
    SELECT count(*) FROM cart_items older
    WHERE older.student_id = cart_items.student_id
      AND (older.added_at < cart_items.added_at
           OR (older.added_at = cart_items.added_at AND older.course_id < cart_items.course_id))
);
CREATE UNIQUE INDEX cart_items_slot ON cart_items (student_id, slot);
