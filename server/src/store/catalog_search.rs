//! The catalog searched in SQL: what a team without a search engine would write, and the
//! baseline the search index is measured against. Every word must occur in the title, the
//! professor or the code (`LIKE '%word%'`, which PostgreSQL answers from `pg_trgm` trigram
//! indexes); an exact title, a title prefix, whole words and the code earn points as the index
//! gives them. It has no 초성, no typo tolerance and no script-aware words.

use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use super::rows::{CourseRow, convert_all};
use super::{CatalogHits, CatalogQuery, StoreError};
use crate::domain::Course;

/// A `LIKE` pattern of `text` taken literally (`\`, `%` and `_` escaped), with `before` and
/// `after` around it.
fn like(before: &str, text: &str, after: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push_str(before);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(after);
    pattern
}

/// A statement's text and its parameters, numbered as they are added.
#[derive(Default)]
struct Statement {
    params: Vec<Param>,
}

#[derive(Clone)]
enum Param {
    Text(String),
    Int(i64),
}

impl Statement {
    fn text(&mut self, value: String) -> String {
        self.params.push(Param::Text(value));
        format!("${}", self.params.len())
    }

    fn int(&mut self, value: i64) -> String {
        self.params.push(Param::Int(value));
        format!("${}", self.params.len())
    }
}

/// The search's `points` expression and its `WHERE` condition, parameters in `statement`.
fn matching(query: &CatalogQuery, statement: &mut Statement) -> (String, String) {
    let title = "lower(c.title)";
    let compact = "lower(replace(c.title, ' ', ''))";
    let code = "lower(c.subject || '-' || c.section)";
    let mut points = vec!["0".to_owned()];
    let mut every_word = Vec::new();
    if let Some(text) = &query.compact {
        let exact = statement.text(text.clone());
        let prefix = statement.text(like("", text, "%"));
        points.push(format!(
            "CASE WHEN {compact} = {exact} THEN 1000 ELSE 0 END"
        ));
        points.push(format!(
            "CASE WHEN {compact} LIKE {prefix} ESCAPE '\\' THEN 300 ELSE 0 END"
        ));
    }
    for word in &query.words {
        let whole = statement.text(like("% ", word, " %"));
        let start = statement.text(like("% ", word, "%"));
        let inside = statement.text(like("%", word, "%"));
        points.push(format!(
            "CASE WHEN ' ' || {title} || ' ' LIKE {whole} ESCAPE '\\' THEN 100 ELSE 0 END"
        ));
        points.push(format!(
            "CASE WHEN ' ' || {title} LIKE {start} ESCAPE '\\' THEN 50 ELSE 0 END"
        ));
        points.push(format!(
            "CASE WHEN ' ' || lower(c.professor) LIKE {start} ESCAPE '\\' THEN 40 ELSE 0 END"
        ));
        points.push(format!(
            "CASE WHEN {title} LIKE {inside} ESCAPE '\\' THEN 10 ELSE 0 END"
        ));
        every_word.push(format!(
            "({title} LIKE {inside} ESCAPE '\\' OR lower(c.professor) LIKE {inside} ESCAPE '\\' \
             OR {code} LIKE {inside} ESCAPE '\\')"
        ));
    }
    let mut any = Vec::new();
    if !every_word.is_empty() {
        any.push(format!("({})", every_word.join(" AND ")));
    }
    if let Some(form) = &query.code {
        let subject = statement.text(form.clone());
        points.push(format!(
            "CASE WHEN lower(c.subject) = {subject} OR {code} = {subject} THEN 800 ELSE 0 END"
        ));
        any.push(format!(
            "lower(c.subject) = {subject} OR {code} = {subject}"
        ));
    }
    let condition = match any.is_empty() {
        true => "TRUE".to_owned(),
        false => format!("({})", any.join(" OR ")),
    };
    (points.join(" + "), condition)
}

/// Which filters a statement applies: every one, or all but a facet's own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Except {
    Nothing,
    Department,
    Credits,
    Weekday,
}

fn filters(query: &CatalogQuery, except: Except, statement: &mut Statement) -> String {
    let mut conditions = Vec::new();
    if let (Some(department), false) = (&query.department, except == Except::Department) {
        conditions.push(format!(
            "c.department = {}",
            statement.text(department.clone())
        ));
    }
    if let (Some(credits), false) = (query.credits, except == Except::Credits) {
        conditions.push(format!("c.credits = {}", statement.int(i64::from(credits))));
    }
    if let (Some(day), false) = (query.weekday, except == Except::Weekday) {
        let bit = statement.int(1 << day);
        conditions.push(format!("(c.weekday_mask & {bit}) <> 0"));
    }
    if query.has_seats {
        conditions.push("c.enrolled < c.capacity".to_owned());
    }
    conditions
        .into_iter()
        .map(|c| format!(" AND {c}"))
        .collect()
}

/// The matching courses with their points, as a subquery `s`.
fn matches(query: &CatalogQuery, except: Except, statement: &mut Statement) -> String {
    let (points, condition) = matching(query, statement);
    let filters = filters(query, except, statement);
    format!(
        "SELECT c.*, CAST({points} AS BIGINT) AS points FROM courses c \
         WHERE {condition}{filters}"
    )
}

async fn fetch<'e, DB, T, E>(executor: E, sql: &str, params: &[Param]) -> Result<Vec<T>, StoreError>
where
    DB: Database,
    E: Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'r> T: FromRow<'r, DB::Row> + Send + Unpin,
{
    let mut query = sqlx::query_as::<DB, T>(sql);
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(text.clone()),
            Param::Int(n) => query.bind(*n),
        };
    }
    Ok(query.fetch_all(executor).await?)
}

#[derive(sqlx::FromRow)]
pub(super) struct HitRow {
    #[sqlx(flatten)]
    course: CourseRow,
    points: i64,
}

/// Runs a catalog search on `pool`: the page, the total and, when asked, the facets.
pub(super) async fn search<DB>(
    pool: &sqlx::Pool<DB>,
    query: &CatalogQuery,
) -> Result<CatalogHits, StoreError>
where
    DB: Database,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'r> HitRow: FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String, i64): FromRow<'r, DB::Row>,
    for<'r> (i64, i64): FromRow<'r, DB::Row>,
    for<'r> (i64, i64, i64, i64, i64, i64): FromRow<'r, DB::Row>,
{
    let mut page = Statement::default();
    let matched = matches(query, Except::Nothing, &mut page);
    let after = match &query.after {
        None => String::new(),
        Some(cursor) => {
            let points = page.int(cursor.points);
            let subject = page.text(cursor.subject.clone());
            let section = page.text(cursor.section.clone());
            let id = page.int(cursor.id);
            format!(
                " WHERE s.points < {points} OR (s.points = {points} AND \
                 (s.subject > {subject} OR (s.subject = {subject} AND (s.section > {section} \
                 OR (s.section = {section} AND s.id > {id})))))"
            )
        }
    };
    let limit = page.int(i64::from(query.limit));
    let skip = page.int(i64::from(query.skip));
    let sql = format!(
        "SELECT s.id, s.subject, s.section, s.title, s.department, s.professor, s.credits, \
         s.capacity, s.enrolled, s.meetings, s.allowed_years, s.own_department_only, s.is_open, \
         s.points FROM ({matched}) s{after} \
         ORDER BY s.points DESC, s.subject, s.section, s.id LIMIT {limit} OFFSET {skip}"
    );
    let rows: Vec<HitRow> = fetch(pool, &sql, &page.params).await?;
    let points: Vec<u32> = rows
        .iter()
        .map(|r| u32::try_from(r.points).unwrap_or(0))
        .collect();
    let courses: Vec<Course> = convert_all(rows.into_iter().map(|r| r.course).collect())?;

    let mut count = Statement::default();
    let matched = matches(query, Except::Nothing, &mut count);
    let total: Vec<(i64,)> = fetch(
        pool,
        &format!("SELECT count(*) FROM ({matched}) s"),
        &count.params,
    )
    .await?;
    let mut hits = CatalogHits {
        hits: courses.into_iter().zip(points).collect(),
        total: total.first().map_or(0, |t| t.0.unsigned_abs()),
        ..CatalogHits::default()
    };
    if query.facets {
        let mut by = Statement::default();
        let matched = matches(query, Except::Department, &mut by);
        let sql = format!("SELECT s.department, count(*) FROM ({matched}) s GROUP BY s.department");
        hits.departments = fetch::<DB, (String, i64), _>(pool, &sql, &by.params)
            .await?
            .into_iter()
            .map(|(d, n)| (d, n.unsigned_abs()))
            .collect();
        let mut by = Statement::default();
        let matched = matches(query, Except::Credits, &mut by);
        let sql = format!(
            "SELECT CAST(s.credits AS BIGINT), count(*) FROM ({matched}) s GROUP BY s.credits"
        );
        hits.credits = fetch::<DB, (i64, i64), _>(pool, &sql, &by.params)
            .await?
            .into_iter()
            .filter_map(|(c, n)| Some((u8::try_from(c).ok()?, n.unsigned_abs())))
            .collect();
        let mut by = Statement::default();
        let matched = matches(query, Except::Weekday, &mut by);
        let days: Vec<String> = (0..6)
            .map(|d| {
                format!(
                    "coalesce(sum(CASE WHEN (s.weekday_mask & {}) <> 0 THEN 1 ELSE 0 END), 0)",
                    1 << d
                )
            })
            .collect();
        let sql = format!("SELECT {} FROM ({matched}) s", days.join(", "));
        let row: Vec<(i64, i64, i64, i64, i64, i64)> = fetch(pool, &sql, &by.params).await?;
        if let Some(&(a, b, c, d, e, f)) = row.first() {
            hits.weekdays = [a, b, c, d, e, f].map(i64::unsigned_abs);
        }
    }
    Ok(hits)
}

/// Trigram indexes for the `LIKE '%…%'` conditions (PostgreSQL with `pg_trgm`).
pub(super) const TRIGRAM_INDEXES: [&str; 4] = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
    "CREATE INDEX IF NOT EXISTS courses_title_trgm ON courses \
     USING gin (lower(title) public.gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS courses_professor_trgm ON courses \
     USING gin (lower(professor) public.gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS courses_code_trgm ON courses \
     USING gin (lower(subject || '-' || section) public.gin_trgm_ops)",
];

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        let cases = [
            ("운영체제", "%운영체제%"),
            ("100%", "%100\\%%"),
            ("a_b", "%a\\_b%"),
            ("c:\\dir", "%c:\\\\dir%"),
            ("' OR 1=1 --", "%' OR 1=1 --%"),
        ];
        for (text, pattern) in cases {
            assert_eq!(like("%", text, "%"), pattern, "{text}");
        }
    }
}
