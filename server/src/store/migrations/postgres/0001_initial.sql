-- Students, administrators, the course catalog, carts and enrollments.

CREATE TABLE students (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_number TEXT        NOT NULL UNIQUE,
    name           TEXT        NOT NULL,
    department     TEXT        NOT NULL,
    year           SMALLINT    NOT NULL CHECK (year BETWEEN 1 AND 6),
    password_hash  TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE admins (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT        NOT NULL UNIQUE,
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE courses (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject             TEXT        NOT NULL,
    section             TEXT        NOT NULL,
    title               TEXT        NOT NULL,
    department          TEXT        NOT NULL,
    professor           TEXT        NOT NULL,
    credits             SMALLINT    NOT NULL CHECK (credits BETWEEN 1 AND 6),
    capacity            INTEGER     NOT NULL CHECK (capacity > 0),
    -- The seat counter. The conditional UPDATE in take_seat keeps it below capacity;
    -- the CHECK is the last line if anything else ever writes it.
    enrolled            INTEGER     NOT NULL DEFAULT 0 CHECK (enrolled >= 0 AND enrolled <= capacity),
    -- JSON array of {weekday, start_min, end_min, room}; always read with the course.
    meetings            TEXT        NOT NULL,
    -- Bit d set when a meeting falls on weekday d (Monday = 0), for the catalog's day filter.
    weekday_mask        SMALLINT    NOT NULL,
    -- Bit y set for each admitted year level; 0 admits all.
    allowed_years       SMALLINT    NOT NULL DEFAULT 0,
    own_department_only BOOLEAN     NOT NULL DEFAULT FALSE,
    is_open             BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (subject, section)
);
CREATE INDEX courses_department ON courses (department, subject, section);

CREATE TABLE cart_items (
    student_id BIGINT      NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    course_id  BIGINT      NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    added_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (student_id, course_id)
);

CREATE TABLE enrollments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id  BIGINT      NOT NULL REFERENCES students (id),
    course_id   BIGINT      NOT NULL REFERENCES courses (id),
    enrolled_at TIMESTAMPTZ NOT NULL,
    UNIQUE (student_id, course_id)
);
CREATE INDEX enrollments_course ON enrollments (course_id);

CREATE TABLE revoked_tokens (
    jti        TEXT        PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
