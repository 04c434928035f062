-- Students, administrators, the course catalog, carts and enrollments.
-- The same schema as PostgreSQL's; timestamps are RFC 3339 text, booleans 0/1.

CREATE TABLE students (
    id             INTEGER PRIMARY KEY,
    student_number TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    department     TEXT    NOT NULL,
    year           INTEGER NOT NULL CHECK (year BETWEEN 1 AND 6),
    password_hash  TEXT    NOT NULL,
    created_at     TEXT    NOT NULL
);

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE courses (
    id                  INTEGER PRIMARY KEY,
    subject             TEXT    NOT NULL,
    section             TEXT    NOT NULL,
    title               TEXT    NOT NULL,
    department          TEXT    NOT NULL,
    professor           TEXT    NOT NULL,
    credits             INTEGER NOT NULL CHECK (credits BETWEEN 1 AND 6),
    capacity            INTEGER NOT NULL CHECK (capacity > 0),
    -- The seat counter; see the PostgreSQL schema.
    enrolled            INTEGER NOT NULL DEFAULT 0 CHECK (enrolled >= 0 AND enrolled <= capacity),
    meetings            TEXT    NOT NULL,
    weekday_mask        INTEGER NOT NULL,
    allowed_years       INTEGER NOT NULL DEFAULT 0,
    own_department_only INTEGER NOT NULL DEFAULT 0,
    is_open             INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    UNIQUE (subject, section)
);
CREATE INDEX courses_department ON courses (department, subject, section);

CREATE TABLE cart_items (
    student_id INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    course_id  INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    added_at   TEXT    NOT NULL,
    PRIMARY KEY (student_id, course_id)
);

CREATE TABLE enrollments (
    id          INTEGER PRIMARY KEY,
    student_id  INTEGER NOT NULL REFERENCES students (id),
    course_id   INTEGER NOT NULL REFERENCES courses (id),
    enrolled_at TEXT    NOT NULL,
    UNIQUE (student_id, course_id)
);
CREATE INDEX enrollments_course ON enrollments (course_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
