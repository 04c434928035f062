-- Each course in a cart holds one of the student's numbered slots (0 to the cart limit less
-- one), unique per student. Adding to a cart is then one statement that takes the lowest free
-- slot below the limit: two adds racing for the same slot cannot both commit, so the limit holds
-- without locking the student.
ALTER TABLE cart_items ADD COLUMN slot SMALLINT;
UPDATE cart_items ci SET slot = ranked.n - 1
FROM (
    SELECT student_id, course_id,
           row_number() OVER (PARTITION BY student_id ORDER BY added_at, course_id) AS n
    FROM cart_items
) ranked
WHERE ranked.student_id = ci.student_id AND ranked.course_id = ci.course_id;
ALTER TABLE cart_items
    ALTER COLUMN slot SET NOT NULL,
    ADD CONSTRAINT cart_items_slot_range CHECK (slot >= 0),
    ADD CONSTRAINT cart_items_slot UNIQUE (student_id, slot);
