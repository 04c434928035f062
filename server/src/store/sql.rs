//! Statements both backends run unchanged. SQLite reads `$1` as PostgreSQL does, so one text
//! serves both; what differs (row locks, how a transaction begins, how a JSON parameter is read
//! as rows) lives in each backend's file.

use super::dialect::Dialect;

/// The course columns every course query selects, in `CourseRow`'s order.
macro_rules! course_columns {
    () => {
        "c.id, c.subject, c.section, c.title, c.department, c.professor, c.credits, c.capacity, \
         c.enrolled, c.meetings, c.allowed_years, c.own_department_only, c.is_open"
    };
}

pub(super) const INSERT_STUDENT: &str = "INSERT INTO students \
     (student_number, name, department, year, password_hash, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (student_number) DO NOTHING RETURNING id";

/// Inserts the student a roster entry describes, if its number and name match and nobody
/// claimed it (the unique student number refuses a second claim).
pub(super) const CLAIM_ROSTER_ENTRY: &str = "INSERT INTO students \
     (student_number, name, department, year, password_hash, created_at) \
     SELECT student_number, name, department, year, $3, $4 FROM roster \
     WHERE student_number = $1 AND name = $2 \
     ON CONFLICT (student_number) DO NOTHING \
     RETURNING id, student_number, name, department, year";

pub(super) const STUDENT_BY_ID: &str =
    "SELECT id, student_number, name, department, year FROM students WHERE id = $1";

pub(super) const STUDENT_CREDENTIALS: &str = "SELECT id, student_number, name, department, year, \
     password_hash FROM students WHERE student_number = $1";

pub(super) const INSERT_ADMIN: &str = "INSERT INTO admins (username, password_hash, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING RETURNING id";

pub(super) const ADMIN_BY_ID: &str = "SELECT id, username FROM admins WHERE id = $1";

pub(super) const ADMIN_CREDENTIALS: &str =
    "SELECT id, username, password_hash FROM admins WHERE username = $1";

pub(super) const REVOKE_TOKEN: &str = "INSERT INTO revoked_tokens (jti, expires_at) \
     VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";

/// Revocations of tokens that have expired anyway are kept no longer.
pub(super) const PRUNE_REVOKED: &str = "DELETE FROM revoked_tokens WHERE expires_at < $1";

/// Revocations of tokens that have not expired yet (`$1` is now), for the queue's rebuild.
pub(super) const LIVE_REVOCATIONS: &str =
    "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1";

pub(super) const IS_REVOKED: &str = "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)";

/// Inserts a course and returns its id (SQLite's `RETURNING` cannot name a table alias, so
/// callers read the course back with `COURSE_BY_ID`).
pub(super) const INSERT_COURSE: &str = "INSERT INTO courses (subject, section, title, department, \
     professor, credits, capacity, meetings, weekday_mask, allowed_years, own_department_only, \
     is_open, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
     ON CONFLICT (subject, section) DO NOTHING RETURNING id";

/// Replaces a course's spec unless the new capacity is below the seats taken; `$1` is the id.
pub(super) const UPDATE_COURSE: &str = "UPDATE courses SET subject = $2, section = $3, \
     title = $4, department = $5, professor = $6, credits = $7, capacity = $8, meetings = $9, \
     weekday_mask = $10, allowed_years = $11, own_department_only = $12, is_open = $13, \
     updated_at = $14 WHERE id = $1 AND enrolled <= $8 RETURNING id";

pub(super) const COURSE_BY_ID: &str = concat!(
    "SELECT ",
    course_columns!(),
    " FROM courses c WHERE c.id = $1"
);

/// Every course's seat counter, for the live seat board.
pub(super) const SEAT_COUNTS: &str = "SELECT id, enrolled FROM courses";

/// The seat counters changed at or after `$1` (unix ms).
pub(super) const SEAT_CHANGES: &str =
    "SELECT id, enrolled FROM courses WHERE seats_changed_ms >= $1";

pub(super) const CATALOG_FINGERPRINT: &str =
    "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM courses";

/// Courses changed after `($1, $2)` in `(updated_at, id)` order, `$3` at most: what the search
/// index follows.
pub(super) const COURSES_CHANGED: &str = concat!(
    "SELECT ",
    course_columns!(),
    ", c.updated_at FROM courses c WHERE c.updated_at > $1 OR (c.updated_at = $1 AND c.id > $2) \
     ORDER BY c.updated_at, c.id LIMIT $3"
);

pub(super) const CART: &str = concat!(
    "SELECT ",
    course_columns!(),
    ", ci.added_at FROM cart_items ci JOIN courses c ON c.id = ci.course_id \
     WHERE ci.student_id = $1 ORDER BY ci.added_at, c.id"
);

/// Puts course $2 in student $1's cart at $4, in the lowest free slot below the cart limit $3.
/// The unique (student, slot) key makes this safe without a lock: of two adds racing for one
/// slot, the second finds the first's row and does nothing (then tries the next slot). It writes
/// nothing either when the course is in the cart already (the primary key), when every slot is
/// taken, or when the course or the student does not exist.
pub(super) const ADD_TO_CART: &str = "WITH RECURSIVE slots (slot) AS (\
     SELECT 0 WHERE 0 < $3 UNION ALL SELECT slot + 1 FROM slots WHERE slot + 1 < $3) \
     INSERT INTO cart_items (student_id, course_id, slot, added_at) \
     SELECT $1, $2, slot, $4 FROM slots \
     WHERE slot NOT IN (SELECT slot FROM cart_items WHERE student_id = $1) \
       AND EXISTS (SELECT 1 FROM courses WHERE id = $2) \
       AND EXISTS (SELECT 1 FROM students WHERE id = $1) \
     ORDER BY slot LIMIT 1 \
     ON CONFLICT DO NOTHING RETURNING course_id";

/// Why [`ADD_TO_CART`] wrote nothing: the cart's size, whether course $2 is in student $1's
/// cart, whether the course and the student exist.
pub(super) const CART_STANDING: &str = "SELECT \
     (SELECT count(*) FROM cart_items WHERE student_id = $1), \
     EXISTS (SELECT 1 FROM cart_items WHERE student_id = $1 AND course_id = $2), \
     EXISTS (SELECT 1 FROM courses WHERE id = $2), \
     EXISTS (SELECT 1 FROM students WHERE id = $1)";

pub(super) const REMOVE_FROM_CART: &str =
    "DELETE FROM cart_items WHERE student_id = $1 AND course_id = $2 RETURNING course_id";

pub(super) const ENROLLMENTS: &str = concat!(
    "SELECT ",
    course_columns!(),
    ", e.id AS enrollment_id, e.enrolled_at FROM enrollments e \
     JOIN courses c ON c.id = e.course_id WHERE e.student_id = $1 ORDER BY c.subject, c.section"
);

pub(super) const ENROLLED_COURSES: &str = concat!(
    "SELECT ",
    course_columns!(),
    " FROM enrollments e JOIN courses c ON c.id = e.course_id WHERE e.student_id = $1"
);

pub(super) const INSERT_ENROLLMENT: &str = "INSERT INTO enrollments \
     (student_id, course_id, enrolled_at) VALUES ($1, $2, $3) \
     ON CONFLICT (student_id, course_id) DO NOTHING RETURNING id";

/// The seat guard. One statement reads and writes the counter, so concurrent enrollments queue
/// on the course's row (PostgreSQL) or on the write lock (SQLite) and none passes capacity. `$2`
/// is now (unix ms), as every statement that moves a counter stamps it.
pub(super) const TAKE_SEAT: &str = "UPDATE courses SET enrolled = enrolled + 1, \
     seats_changed_ms = $2 WHERE id = $1 AND is_open AND enrolled < capacity \
     RETURNING id, enrolled";

pub(super) const DELETE_ENROLLMENT: &str =
    "DELETE FROM enrollments WHERE student_id = $1 AND course_id = $2 RETURNING id";

pub(super) const RELEASE_SEAT: &str = "UPDATE courses SET enrolled = enrolled - 1, \
     seats_changed_ms = $2 WHERE id = $1 AND enrolled > 0 RETURNING id, enrolled";

/// The decision columns every decision query selects, in `DecisionRow`'s order.
macro_rules! decision_columns {
    () => {
        "ticket_id, student_id, course_id, state, code, admitted_at_ms, decided_at_ms"
    };
}

/// The fence: records `$1` as the newest epoch that committed unless a newer one did, and locks
/// the row until the transaction ends.
pub(super) const PASS_FENCE: &str =
    "UPDATE queue_state SET epoch = $1 WHERE id = 1 AND epoch <= $1 RETURNING generation";

/// The fence, and the next generation of the queue's state.
pub(super) const NEXT_GENERATION: &str = "UPDATE queue_state SET epoch = $1, \
     generation = generation + 1 WHERE id = 1 AND epoch <= $1 RETURNING generation";

pub(super) const QUEUE_SETTINGS: &str = "SELECT epoch, generation, opens_at_ms, paused, \
     admission_rate, mode FROM queue_state WHERE id = 1";

pub(super) const UPDATE_SETTINGS: &str = "UPDATE queue_state SET opens_at_ms = $1, paused = $2, \
     admission_rate = $3, mode = $4 WHERE id = 1";

/// The drain's statements. Each carries its batch as one JSON parameter, read as a table by
/// [`Dialect::json_rows`], so a statement reads the same whatever the batch's size and each
/// connection prepares it once: with a parameter per value, every batch was new text, and each
/// of its statements cost a second round trip to be prepared (and planned) again.
pub(super) struct DrainStatements {
    /// The batch's tickets the database already decided; `$1`: `[{"id": ticket id}]`.
    pub decided: String,
    /// The batch's students, locked in id order; `$1`: `[{"id": student id}]`.
    pub students: String,
    /// The courses those students hold, with the student's id; `$1` as for `students`.
    pub schedules: String,
    /// The batch's courses, locked in id order; `$1`: `[{"id": course id}]`.
    pub courses: String,
    /// `$1`: `[{student_id, course_id, ticket_id}]`, `$2`: the time of enrollment.
    pub enrollments: String,
    /// Takes seats in many courses at once, each only if it stays within capacity. `$1`:
    /// `[{course_id, taken}]`, `$2`: now in unix ms. Returns the id and new counter of each
    /// course that took its seats; a course missing from the answer would have gone over (or
    /// closed), and the batch rolls back.
    pub take_seats: String,
    /// `$1`: `[{ticket_id, generation, seq, student_id, course_id, state, code, admitted_at_ms,
    /// decided_at_ms}]`, `$2`: the epoch.
    pub decisions: String,
}

impl DrainStatements {
    pub(super) fn new<DB: Dialect>() -> DrainStatements {
        let ids = |of: &str| format!("(SELECT id FROM {})", DB::json_rows(1, "b", &[("id", of)]));
        DrainStatements {
            decided: format!(
                "SELECT {} FROM ticket_decisions WHERE ticket_id IN {}",
                decision_columns!(),
                ids("text")
            ),
            students: format!(
                "SELECT id, student_number, name, department, year FROM students \
                 WHERE id IN {} ORDER BY id{}",
                ids("bigint"),
                DB::LOCK_ROWS
            ),
            schedules: format!(
                "SELECT {}, e.student_id FROM enrollments e JOIN courses c ON c.id = e.course_id \
                 WHERE e.student_id IN {}",
                course_columns!(),
                ids("bigint")
            ),
            courses: format!(
                "SELECT {} FROM courses c WHERE c.id IN {} ORDER BY c.id{}",
                course_columns!(),
                ids("bigint"),
                DB::LOCK_ROWS
            ),
            enrollments: format!(
                "INSERT INTO enrollments (student_id, course_id, enrolled_at, ticket_id) \
                 SELECT student_id, course_id, $2, ticket_id FROM {}",
                DB::json_rows(
                    1,
                    "r",
                    &[
                        ("student_id", "bigint"),
                        ("course_id", "bigint"),
                        ("ticket_id", "text")
                    ]
                )
            ),
            take_seats: format!(
                "UPDATE courses SET enrolled = enrolled + v.taken, seats_changed_ms = $2 \
                 FROM {} WHERE id = v.course_id AND is_open AND enrolled + v.taken <= capacity \
                 RETURNING id, enrolled",
                DB::json_rows(1, "v", &[("course_id", "bigint"), ("taken", "bigint")])
            ),
            decisions: format!(
                "INSERT INTO ticket_decisions (ticket_id, generation, seq, student_id, course_id, \
                 state, code, admitted_at_ms, decided_at_ms, epoch) \
                 SELECT ticket_id, generation, seq, student_id, course_id, state, code, \
                 admitted_at_ms, decided_at_ms, $2 FROM {}",
                DB::json_rows(
                    1,
                    "r",
                    &[
                        ("ticket_id", "text"),
                        ("generation", "bigint"),
                        ("seq", "bigint"),
                        ("student_id", "bigint"),
                        ("course_id", "bigint"),
                        ("state", "text"),
                        ("code", "text"),
                        ("admitted_at_ms", "bigint"),
                        ("decided_at_ms", "bigint")
                    ]
                )
            ),
        }
    }
}

pub(super) const COURSE_IDS: &str = "SELECT id FROM courses";

pub(super) const ENROLLED_PAIRS: &str = "SELECT student_id, course_id FROM enrollments";

pub(super) const FULL_COURSES: &str =
    "SELECT id FROM courses WHERE enrolled >= capacity ORDER BY id";

pub(super) const DECIDED_TICKET: &str = concat!(
    "SELECT ",
    decision_columns!(),
    " FROM ticket_decisions WHERE ticket_id = $1"
);

pub(super) const HIGHEST_DECIDED_SEQ: &str =
    "SELECT COALESCE(MAX(seq), 0) FROM ticket_decisions WHERE generation = $1";

pub(super) const DECIDED_TICKETS_OF: &str = concat!(
    "SELECT ",
    decision_columns!(),
    " FROM ticket_decisions WHERE student_id = $1 ORDER BY generation DESC, seq DESC LIMIT $2"
);

/// `($1, $2, …)` for `rows` rows of `columns` placeholders each, comma-separated; with one row,
/// an `IN` list. With `numbered` false, plain `?`: SQLite looks numbered names up one by one on
/// every bind, which turns a statement of thousands of parameters quadratic.
pub(super) fn placeholders(rows: usize, columns: usize, numbered: bool) -> String {
    let mut text = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for column in 0..columns {
            if column > 0 {
                text.push_str(", ");
            }
            match numbered {
                true => text.push_str(&format!("${}", row * columns + column + 1)),
                false => text.push('?'),
            }
        }
        text.push(')');
    }
    text
}

/// Followed by rows of (subject, section, title, department, professor, credits, capacity,
/// meetings, weekday_mask, allowed_years, own_department_only, is_open, created_at, updated_at).
pub(super) const BULK_COURSES: &str = "INSERT INTO courses (subject, section, title, department, \
     professor, credits, capacity, meetings, weekday_mask, allowed_years, own_department_only, \
     is_open, created_at, updated_at) VALUES ";

/// Followed by rows of (student_number, name, department, year, password_hash, created_at).
pub(super) const BULK_STUDENTS: &str = "INSERT INTO students (student_number, name, department, \
     year, password_hash, created_at) VALUES ";

/// Followed by rows of (student_id, course_id, slot, added_at).
pub(super) const BULK_CART_ITEMS: &str =
    "INSERT INTO cart_items (student_id, course_id, slot, added_at) VALUES ";

pub(super) const BULK_ROSTER: &str =
    "INSERT INTO roster (student_number, name, department, year) VALUES ";

pub(super) const DATA_COUNTS: &str = "SELECT (SELECT count(*) FROM courses), \
     (SELECT count(*) FROM students), (SELECT count(*) FROM enrollments), \
     (SELECT count(*) FROM roster)";
