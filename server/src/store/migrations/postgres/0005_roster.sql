-- The registrar's roster: who may sign up. A sign-up claims an entry by inserting the student
-- from it; the students table's unique student number makes a second claim of it fail.
CREATE TABLE roster (
    student_number TEXT     PRIMARY KEY,
    name           TEXT     NOT NULL,
    department     TEXT     NOT NULL,
    year           SMALLINT NOT NULL CHECK (year BETWEEN 1 AND 6)
);

-- Every student there is already is on the roster, as a claimed entry.
INSERT INTO roster (student_number, name, department, year)
SELECT student_number, name, department, year FROM students;
