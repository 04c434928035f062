//! The course catalog: `GET /api/v1/courses`, its search (`/search`, `/suggest`) and
//! `GET /api/v1/courses/{id}`. Every listing comes from the search index, never a scan of the
//! catalog table.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use lru::LruCache;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{AppError, ErrorBody, ServerErrors};
use super::extract::{Json, Path, Query};
use crate::domain::course::clock;
use crate::domain::{Course, CourseId, Credits, Meeting, Rejection, Weekday};
use crate::search::highlight::{Highlighter, Span};
use crate::search::{Hit, Rank, SearchFilter, SearchRequest, SearchText, SuggestionKind, Window};

/// The largest page the catalog serves.
pub const MAX_PER_PAGE: u32 = 100;

/// The last page a client may ask for: at most 49,900 courses are skipped (an `OFFSET` the
/// database walks in a few milliseconds), never millions. Narrow the search to go further.
pub const MAX_PAGE: u32 = 500;

/// The longest department filter taken, in characters.
pub const MAX_SEARCH_CHARS: usize = 100;

/// One weekly meeting.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingView {
    pub weekday: Weekday,
    /// Minutes since midnight.
    pub start_min: u16,
    pub end_min: u16,
    /// `HH:MM`.
    pub start: String,
    pub end: String,
    pub room: String,
    /// As a timetable prints it, e.g. `월 10:30-11:45`.
    pub label: String,
}

impl From<&Meeting> for MeetingView {
    fn from(m: &Meeting) -> Self {
        MeetingView {
            weekday: m.weekday,
            start_min: m.start_min,
            end_min: m.end_min,
            start: clock(m.start_min),
            end: clock(m.end_min),
            room: m.room.clone(),
            label: m.label(),
        }
    }
}

/// A course's JSON as [`CourseView`] writes it, rendered once.
#[derive(Debug, Clone)]
pub struct Rendered(Arc<RawValue>);

impl Rendered {
    fn of(course: &Course) -> Rendered {
        let json = serde_json::value::to_raw_value(&CourseView::from(course))
            .expect("a course view serializes");
        Rendered(Arc::from(json))
    }
}

impl Serialize for Rendered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The most course renderings kept: about 600 bytes of JSON each, its course shared with the
/// search index's read-back courses, so at most about 30 MiB beside them.
pub const RENDERED: usize = 50_000;

/// Course JSON rendered once and kept. A page of hits repeats the same courses from request to
/// request, and building and writing each one's view (its strings, its meetings' clock times
/// and labels) cost the server more than ranking the page. A rendering is given back only for
/// the very course it was made from, seats included: a course edited or a seat taken renders
/// again.
pub struct RenderedCourses {
    kept: Mutex<LruCache<CourseId, (Arc<Course>, Rendered)>>,
}

impl RenderedCourses {
    pub fn new(capacity: NonZeroUsize) -> RenderedCourses {
        RenderedCourses {
            kept: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The JSON of each course, in order.
    pub fn render<'a>(&self, courses: impl IntoIterator<Item = &'a Arc<Course>>) -> Vec<Rendered> {
        let courses: Vec<&Arc<Course>> = courses.into_iter().collect();
        let mut rendered: Vec<Option<Rendered>> = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            courses
                .iter()
                .map(|course| match kept.get(&course.id) {
                    Some((made_from, json))
                        if Arc::ptr_eq(made_from, course) || **made_from == ***course =>
                    {
                        Some(json.clone())
                    }
                    _ => None,
                })
                .collect()
        };
        let mut made = Vec::new();
        for (slot, course) in rendered.iter_mut().zip(&courses) {
            if slot.is_none() {
                let json = Rendered::of(course);
                made.push((Arc::clone(course), json.clone()));
                *slot = Some(json);
            }
        }
        if !made.is_empty() {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            for (course, json) in made {
                kept.put(course.id, (course, json));
            }
        }
        rendered.into_iter().flatten().collect()
    }
}

impl Default for RenderedCourses {
    fn default() -> Self {
        RenderedCourses::new(NonZeroUsize::new(RENDERED).expect("RENDERED is not 0"))
    }
}

/// Who may enroll beyond the common rules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RestrictionsView {
    /// Admitted year levels; null admits all.
    pub years: Option<Vec<u8>>,
    pub own_department_only: bool,
}

/// A course with its seats.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CourseView {
    pub id: i64,
    /// Code with section, e.g. `CSE2010-01`.
    pub code: String,
    pub title: String,
    pub department: String,
    pub professor: String,
    pub credits: u8,
    pub capacity: u32,
    pub enrolled: u32,
    pub seats_left: u32,
    pub is_open: bool,
    pub meetings: Vec<MeetingView>,
    pub restrictions: RestrictionsView,
}

impl From<&Course> for CourseView {
    fn from(course: &Course) -> Self {
        let spec = &course.spec;
        CourseView {
            id: course.id.0,
            code: spec.code.to_string(),
            title: spec.title.clone(),
            department: spec.department.clone(),
            professor: spec.professor.clone(),
            credits: spec.credits.get(),
            capacity: spec.capacity,
            enrolled: course.enrolled,
            seats_left: course.seats_left(),
            is_open: spec.is_open,
            meetings: spec.meetings.iter().map(MeetingView::from).collect(),
            restrictions: RestrictionsView {
                years: spec.restrictions.years.map(|y| y.years()),
                own_department_only: spec.restrictions.own_department_only,
            },
        }
    }
}

/// Catalog filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CourseQuery {
    /// Search text, matched as `GET /api/v1/courses/search` matches it (words, parts of
    /// compounds, 초성, codes, professors); hits come most relevant first. At most 100
    /// characters once trimmed, no control characters (nor U+FFFD, what invalid UTF-8 decodes
    /// to); blank lists everything in code order.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f\ufffd]*$")]
    pub q: Option<String>,
    /// Exact department name, e.g. `컴퓨터공학과`; at most 100 characters, no control characters.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub department: Option<String>,
    /// Courses meeting on this day.
    pub weekday: Option<Weekday>,
    /// Courses worth exactly this many credits (1–6).
    #[param(minimum = 1, maximum = 6)]
    pub credits: Option<i64>,
    /// Only courses with a free seat.
    pub has_seats: Option<bool>,
    /// 1-based page number, 1–500; default 1.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Courses per page, 1–100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// A page of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoursePage {
    #[schema(value_type = Vec<CourseView>)]
    pub items: Vec<Rendered>,
    pub page: u32,
    pub per_page: u32,
    /// Courses matching the filters, over all pages.
    pub total: u64,
}

/// Checks a search text.
fn search_text(q: Option<&str>) -> Result<Option<SearchText>, AppError> {
    SearchText::parse(q.unwrap_or("")).map_err(|e| AppError::InvalidQuery(e.to_string()))
}

/// Checks the filters the catalog and the search share.
fn search_filter(
    department: Option<String>,
    weekday: Option<Weekday>,
    credits: Option<i64>,
    has_seats: Option<bool>,
) -> Result<SearchFilter, AppError> {
    let credits = match credits {
        Some(raw) => Some(
            Credits::new(raw)
                .ok_or_else(|| AppError::InvalidQuery("credits must be between 1 and 6".into()))?,
        ),
        None => None,
    };
    if let Some(department) = &department
        && (department.chars().count() > MAX_SEARCH_CHARS
            || department.chars().any(char::is_control))
    {
        return Err(AppError::InvalidQuery(format!(
            "department must be at most {MAX_SEARCH_CHARS} characters, without control characters"
        )));
    }
    Ok(SearchFilter {
        department: department.filter(|d| !d.trim().is_empty()),
        weekday,
        credits,
        has_seats: has_seats.unwrap_or(false),
    })
}

impl CourseQuery {
    fn parse(self) -> Result<(SearchRequest, u32, u32), AppError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(AppError::InvalidQuery(format!(
                "page must be between 1 and {MAX_PAGE}"
            )));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(AppError::InvalidQuery(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        let request = SearchRequest {
            text: search_text(self.q.as_deref())?,
            filter: search_filter(self.department, self.weekday, self.credits, self.has_seats)?,
            window: Window::Skip(((page - 1) * per_page) as usize),
            limit: per_page as usize,
            facets: false,
        };
        Ok((request, page, per_page))
    }
}

/// Lists the catalog, filtered and paged, from the search index: in code order, or most
/// relevant first when searching. Seats come from the live counter.
#[utoipa::path(
    get,
    path = "/api/v1/courses",
    tag = "courses",
    params(CourseQuery),
    responses(
        (status = 200, description = "A page of courses", body = CoursePage),
        (status = 400, description = "INVALID_QUERY: a filter or paging value is out of range or of the wrong type", body = ErrorBody),
        ServerErrors,
    )
)]
pub async fn list_courses(
    State(state): State<AppState>,
    Query(query): Query<CourseQuery>,
) -> Result<Json<CoursePage>, AppError> {
    let (request, page, per_page) = query.parse()?;
    let found = state
        .search
        .index
        .search(&request, state.store.seats())
        .await?;
    Ok(Json(CoursePage {
        items: state.rendered.render(found.hits.iter().map(|h| &h.course)),
        page,
        per_page,
        total: found.total,
    }))
}

/// Search filters and the cursor.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What the student typed: words of the title (자료구조 finds 고급 자료구조, 구조 finds
    /// 자료구조), the start of a word (운영체 finds 운영체제), 초성 (ㅈㄹㄱㅈ, or mixed 자ㄹ구조),
    /// a professor, a course code typed loosely (`CSE2010`, `cse 2010`, `2010`), English words
    /// with a typo or two. Query syntax (`*?~^"():!`, `AND OR NOT`) means nothing: only the
    /// words count, and a text of symbols only finds nothing. At most 100 characters once
    /// trimmed, no control characters (nor U+FFFD); blank finds everything in code order.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f\ufffd]*$")]
    pub q: Option<String>,
    /// Exact department name; at most 100 characters, no control characters.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub department: Option<String>,
    /// Courses meeting on this day.
    pub weekday: Option<Weekday>,
    /// Courses worth exactly this many credits (1–6).
    #[param(minimum = 1, maximum = 6)]
    pub credits: Option<i64>,
    /// Only courses with a free seat (by the live counter).
    pub has_seats: Option<bool>,
    /// `next_cursor` of the previous page; absent for the first.
    #[param(max_length = 64)]
    pub cursor: Option<String>,
    /// Hits per page, 1–100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Which characters of a hit the query matched, as `[start, end)` character offsets.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct HighlightView {
    pub title: Vec<Span>,
    pub professor: Vec<Span>,
    pub code: Vec<Span>,
}

/// A course found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHitView {
    #[schema(value_type = CourseView)]
    pub course: Rendered,
    pub highlight: HighlightView,
}

/// How many hits one value of a facet has.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetCount<T> {
    pub value: T,
    pub count: u64,
}

/// Hits per value, each counted with every filter but its own (what choosing another value
/// would give).
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetsView {
    /// Most hits first.
    #[schema(value_type = Vec<FacetCount<String>>)]
    pub department: Vec<FacetCount<Arc<str>>>,
    pub credits: Vec<FacetCount<u8>>,
    pub weekday: Vec<FacetCount<Weekday>>,
}

/// A page of search hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchHitView>,
    /// Hits over all pages.
    pub total: u64,
    /// Pass as `cursor` for the next page; null on the last. A cursor stays valid while
    /// courses change: the next page starts after the last hit of this one.
    pub next_cursor: Option<String>,
    pub facets: FacetsView,
}

/// Searches the catalog: most relevant first (exact title, title prefix, whole words, parts of
/// words), ties in code order, with facet counts, the matched parts and live seats.
#[utoipa::path(
    get,
    path = "/api/v1/courses/search",
    tag = "courses",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of hits", body = SearchPage),
        (status = 400, description = "INVALID_QUERY: the text is too long or holds control characters, a filter is out of range, or the cursor is not one this server made", body = ErrorBody),
        ServerErrors,
    )
)]
pub async fn search_courses(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<SearchPage>, AppError> {
    let found = find(&state, &query).await?;
    let rendered = state.rendered.render(found.hits.iter().map(|h| &h.course));
    let items = found
        .highlights
        .into_iter()
        .zip(rendered)
        .map(|(highlight, course)| SearchHitView { highlight, course })
        .collect();
    Ok(Json(SearchPage {
        items,
        total: found.total,
        next_cursor: found.next_cursor,
        facets: found.facets,
    }))
}

/// A page of search hits before it is written out: for the API and the web pages alike.
pub struct Found {
    pub hits: Vec<Hit>,
    /// The matched parts of each hit, in the same order.
    pub highlights: Vec<HighlightView>,
    pub total: u64,
    pub next_cursor: Option<String>,
    pub facets: FacetsView,
}

/// Searches the index for one page of `query`, checking every parameter.
pub async fn find(state: &AppState, query: &SearchQuery) -> Result<Found, AppError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_PER_PAGE).contains(&limit) {
        return Err(AppError::InvalidQuery(format!(
            "limit must be between 1 and {MAX_PER_PAGE}"
        )));
    }
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(cursor) => Some(
            Rank::from_cursor(cursor)
                .ok_or_else(|| AppError::InvalidQuery("cursor is not valid".into()))?,
        ),
    };
    let text = search_text(query.q.as_deref())?;
    let request = SearchRequest {
        text: text.clone(),
        filter: search_filter(
            query.department.clone(),
            query.weekday,
            query.credits,
            query.has_seats,
        )?,
        window: Window::After(after),
        // One more than the page, to know whether another follows.
        limit: limit as usize + 1,
        facets: true,
    };
    let mut found = state
        .search
        .index
        .search(&request, state.store.seats())
        .await?;
    let next_cursor = match found.hits.len() > limit as usize {
        true => {
            found.hits.truncate(limit as usize);
            found.hits.last().map(|hit| hit.rank.cursor())
        }
        false => None,
    };
    let facets = found.facets.unwrap_or_default();
    let mut highlighter = text.as_ref().map(Highlighter::new);
    let highlights = found
        .hits
        .iter()
        .map(|hit| {
            let spec = &hit.course.spec;
            match &mut highlighter {
                None => HighlightView::default(),
                Some(highlighter) => HighlightView {
                    title: highlighter.spans(&spec.title),
                    professor: highlighter.spans(&spec.professor),
                    code: highlighter.spans(spec.code.as_str()),
                },
            }
        })
        .collect();
    Ok(Found {
        hits: found.hits,
        highlights,
        total: found.total,
        next_cursor,
        facets: FacetsView {
            department: facets
                .department
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect(),
            credits: facets
                .credits
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect(),
            weekday: facets
                .weekday
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect(),
        },
    })
}

/// What was typed so far.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    /// What the student has typed so far; 1 to 100 characters once trimmed, no control
    /// characters (nor U+FFFD).
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\ufffd]*$"
    )]
    pub q: String,
    /// Entries, 1–10; default 10.
    #[param(minimum = 1, maximum = 10)]
    pub limit: Option<u32>,
}

/// One autocomplete entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionView {
    pub kind: SuggestionKind,
    /// What to show and put in the search box (for a code, the code and the title).
    pub text: String,
    /// The course, for a code.
    pub course_id: Option<i64>,
}

/// Autocomplete entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    pub items: Vec<SuggestionView>,
}

/// Completes what a student is typing: course titles, codes and professors, best first, each
/// once.
#[utoipa::path(
    get,
    path = "/api/v1/courses/suggest",
    tag = "courses",
    params(SuggestQuery),
    responses(
        (status = 200, description = "Up to `limit` entries (none for a blank text)", body = Suggestions),
        (status = 400, description = "INVALID_QUERY: q is missing, too long or holds control characters, or limit is out of range", body = ErrorBody),
        ServerErrors,
    )
)]
pub async fn suggest_courses(
    State(state): State<AppState>,
    Query(query): Query<SuggestQuery>,
) -> Result<Json<Suggestions>, AppError> {
    let limit = query.limit.unwrap_or(MAX_SUGGESTIONS);
    if !(1..=MAX_SUGGESTIONS).contains(&limit) {
        return Err(AppError::InvalidQuery(format!(
            "limit must be between 1 and {MAX_SUGGESTIONS}"
        )));
    }
    let items = match search_text(Some(&query.q))? {
        None => Vec::new(),
        Some(text) => state.search.index.suggest(&text, limit as usize).await?,
    };
    Ok(Json(Suggestions {
        items: items
            .into_iter()
            .map(|s| SuggestionView {
                kind: s.kind,
                text: s.text,
                course_id: s.course_id.map(|id| id.0),
            })
            .collect(),
    }))
}

/// The most autocomplete entries one request returns.
pub const MAX_SUGGESTIONS: u32 = 10;

/// One course, from the search index like every catalog read (a course written elsewhere
/// within a second), with seats from the live counter.
#[utoipa::path(
    get,
    path = "/api/v1/courses/{id}",
    tag = "courses",
    params(("id" = i64, Path, description = "Course id")),
    responses(
        (status = 200, description = "The course", body = CourseView),
        (status = 400, description = "INVALID_PATH: the id is not a number", body = ErrorBody),
        (status = 404, description = "COURSE_NOT_FOUND", body = ErrorBody),
        ServerErrors,
    )
)]
pub async fn get_course(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Rendered>, AppError> {
    let course = state
        .search
        .index
        .course(CourseId(id), state.store.seats())
        .await?
        .ok_or(Rejection::CourseNotFound)?;
    let [rendered] = state
        .rendered
        .render([&course])
        .try_into()
        .expect("one rendering per course");
    Ok(Json(rendered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::contract::course;

    fn json(rendered: &Rendered) -> serde_json::Value {
        serde_json::from_str(rendered.0.get()).unwrap()
    }

    #[test]
    fn a_course_is_rendered_again_only_when_it_changed() {
        let rendered = RenderedCourses::new(NonZeroUsize::new(2).unwrap());
        let first = Arc::new(course(1, "CSE2010-01", "자료구조", "김민준"));
        let [made] = rendered.render([&first]).try_into().unwrap();
        assert_eq!(
            json(&made),
            serde_json::to_value(CourseView::from(&*first)).unwrap()
        );
        // The same course again, or an equal copy of it: the JSON kept.
        let [again] = rendered.render([&first]).try_into().unwrap();
        assert!(Arc::ptr_eq(&made.0, &again.0));
        let copy = Arc::new(Course::clone(&first));
        let [same] = rendered.render([&copy]).try_into().unwrap();
        assert!(Arc::ptr_eq(&made.0, &same.0));
        // A seat taken and a title edited render again.
        let mut taken = Course::clone(&first);
        taken.enrolled += 1;
        let [seats] = rendered.render([&Arc::new(taken)]).try_into().unwrap();
        assert_eq!(json(&seats)["enrolled"], first.enrolled + 1);
        let mut edited = Course::clone(&first);
        edited.spec.title = "고급자료구조".into();
        let [title] = rendered.render([&Arc::new(edited)]).try_into().unwrap();
        assert_eq!(json(&title)["title"], "고급자료구조");
        // At most the capacity is kept: the least recently used goes.
        let (a, b) = (
            Arc::new(course(2, "CSE2020-01", "운영체제", "이서연")),
            Arc::new(course(3, "CSE3030-01", "컴퓨터네트워크", "박지훈")),
        );
        let kept = rendered.render([&a]);
        rendered.render([&b]);
        rendered.render([&first]);
        let [later] = rendered.render([&a]).try_into().unwrap();
        assert!(!Arc::ptr_eq(&kept[0].0, &later.0));
    }
}
