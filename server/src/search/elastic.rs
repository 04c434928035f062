//! Search on Elasticsearch (`CLASSMATE_ELASTICSEARCH_URL`), as the original system had it, with
//! the `elasticsearch` crate. One index is shared by every server process.
//!
//! The index is made from an index template ([`template`]): the nori analyzer
//! (`decompound_mode: mixed`, the course-name compounds of `seed-data/nori-user-dictionary.txt`,
//! part-of-speech and word stopwords) on the title, beside the same exact-term fields the
//! tantivy index has (words, bigrams, prefixes, 초성, code forms, from [`plan::course_terms`]).
//! Queries are the same [`Plan`] the tantivy index runs, translated to constant-score clauses
//! ([`query_body`]), so a hit's score is exactly its points and both engines rank alike; the
//! nori title is one more way for a word to be a part of a title.
//!
//! Searches go to an alias. A rebuild fills a new index (`<alias>-<unix ms>`) while the alias
//! answers from the old one, then moves the alias in one `_aliases` request and deletes the old
//! index. How far the index has followed the catalog is kept in its mapping's `_meta`.
//!
//! Seats left are the live counter's, as everywhere: `has_seats` excludes the ids the counter
//! has full (capacities are read from the index at start and kept as courses are written).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use elasticsearch::auth::Credentials;
use elasticsearch::http::request::JsonBody;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use elasticsearch::indices::{
    IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesGetMappingParts,
    IndicesPutIndexTemplateParts, IndicesPutMappingParts, IndicesRefreshParts,
};
use elasticsearch::params::Refresh;
use elasticsearch::{BulkParts, Elasticsearch, GetParts, SearchParts};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::plan::{Plan, TermField, compact, course_terms, text_plan};
use super::text::{self, hangul_bigrams};
use super::{
    Facets, Hit, IndexStatus, Rank, Rebuild, SearchBackend, SearchError, SearchFilter, SearchIndex,
    SearchRequest, SearchResults, SearchText, StoredCourse, Watermark, Window, code_order,
    live_seats, slots,
};
use crate::domain::{Course, CourseId};
use crate::store::SeatBoard;

/// Bumped whenever the template's mappings or analysis change: an index of another version is
/// replaced by an empty one at start, which the sync then fills.
pub const SCHEMA_VERSION: u32 = 1;

/// The index template's name.
pub const TEMPLATE: &str = "classmate-courses";

/// How long one request to Elasticsearch may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The deepest hit one search may reach with `from` (Elasticsearch's `max_result_window`);
/// deeper numbered pages walk there with `search_after`.
const MAX_WINDOW: usize = 10_000;

/// The most ids in one `terms` clause (below Elasticsearch's `max_terms_count`, 65,536).
const MAX_TERMS: usize = 60_000;

/// Courses per bulk request.
const BULK: usize = 2_000;

/// Departments a facet counts at most.
const MAX_DEPARTMENTS: usize = 1_000;

/// Part-of-speech tags nori drops: endings, particles, punctuation (nori's own defaults).
const STOPTAGS: &[&str] = &[
    "E", "IC", "J", "MAG", "MAJ", "MM", "SP", "SSC", "SSO", "SC", "SE", "XPN", "XSA", "XSN", "XSV",
    "UNA", "NA", "VSV",
];

/// Words in course titles that say nothing about the course.
const STOPWORDS: &[&str] = &["및", "과", "와", "의", "를", "을", "the", "and", "of", "to"];

/// The nori user dictionary: one rule per line (a compound, then its parts), comments dropped.
pub fn user_dictionary() -> Vec<&'static str> {
    include_str!("../../../seed-data/nori-user-dictionary.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// The index template for the indices behind `alias`.
pub fn template(alias: &str) -> Value {
    let keyword = json!({ "type": "keyword" });
    let mut properties = serde_json::Map::new();
    for field in TermField::ALL {
        properties.insert(field.name().into(), keyword.clone());
    }
    for (name, kind) in [
        ("id", "long"),
        ("order", "long"),
        ("capacity", "integer"),
        ("credits", "integer"),
        ("weekdays", "integer"),
    ] {
        properties.insert(name.into(), json!({ "type": kind }));
    }
    properties.insert("department".into(), keyword.clone());
    properties.insert("title_key".into(), keyword);
    properties.insert(
        "title".into(),
        json!({ "type": "text", "analyzer": "classmate_korean" }),
    );
    // Kept in `_source` to answer without the database; never indexed.
    properties.insert(
        "course".into(),
        json!({ "type": "object", "enabled": false }),
    );
    json!({
        "index_patterns": [format!("{alias}-*")],
        "priority": 100,
        "_meta": { "managed_by": "classmate", "schema": SCHEMA_VERSION },
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "max_result_window": MAX_WINDOW,
                    "refresh_interval": "1s",
                },
                "analysis": {
                    "tokenizer": {
                        "classmate_nori": {
                            "type": "nori_tokenizer",
                            "decompound_mode": "mixed",
                            "discard_punctuation": true,
                            "user_dictionary_rules": user_dictionary(),
                        }
                    },
                    "filter": {
                        "classmate_pos": { "type": "nori_part_of_speech", "stoptags": STOPTAGS },
                        "classmate_stop": { "type": "stop", "stopwords": STOPWORDS },
                    },
                    "analyzer": {
                        "classmate_korean": {
                            "type": "custom",
                            "tokenizer": "classmate_nori",
                            "filter": [
                                "cjk_width",
                                "lowercase",
                                "classmate_pos",
                                "nori_readingform",
                                "classmate_stop",
                            ],
                        }
                    },
                },
            },
            "mappings": {
                "dynamic": "strict",
                "_meta": { "schema": SCHEMA_VERSION },
                "properties": properties,
            },
        },
    })
}

/// A course as the index holds it.
pub fn document(course: &Course) -> Value {
    let spec = &course.spec;
    let mut doc = serde_json::Map::new();
    for field in TermField::ALL {
        doc.insert(field.name().into(), json!(course_terms(course, field)));
    }
    let mut days: Vec<u8> = spec.meetings.iter().map(|m| m.weekday.index()).collect();
    days.sort_unstable();
    days.dedup();
    doc.insert("id".into(), json!(course.id.0));
    doc.insert("order".into(), json!(code_order(course)));
    doc.insert("capacity".into(), json!(spec.capacity));
    doc.insert("credits".into(), json!(spec.credits.get()));
    doc.insert("weekdays".into(), json!(days));
    doc.insert("department".into(), json!(spec.department));
    doc.insert("title_key".into(), json!(compact(&spec.title)));
    doc.insert("title".into(), json!(text::normalize(&spec.title)));
    doc.insert("course".into(), json!(StoredCourse::from(course)));
    Value::Object(doc)
}

/// The query for a plan: each [`Plan::Worth`] a `constant_score` with its points as boost, so
/// that the sum Elasticsearch scores is the sum of points.
pub fn translate(plan: &Plan) -> Value {
    match plan {
        Plan::Term(field, term) => json!({ "term": { field.name(): term } }),
        Plan::Typo(field, term) => json!({
            "fuzzy": { field.name(): {
                "value": term, "fuzziness": 1, "transpositions": true, "prefix_length": 0,
            } }
        }),
        Plan::Part(word) => {
            let grams: Vec<Value> = hangul_bigrams(word)
                .iter()
                .map(|g| json!({ "term": { TermField::Gram.name(): g } }))
                .collect();
            json!({ "bool": {
                "should": [
                    { "bool": { "filter": grams } },
                    { "match": { "title": { "query": word, "operator": "and" } } },
                ],
                "minimum_should_match": 1,
            } })
        }
        Plan::All(parts) => {
            json!({ "bool": { "must": parts.iter().map(translate).collect::<Vec<_>>() } })
        }
        Plan::Any(parts) => json!({ "bool": {
            "should": parts.iter().map(translate).collect::<Vec<_>>(),
            "minimum_should_match": 1,
        } }),
        Plan::Worth(points, part) => json!({
            "constant_score": { "filter": translate(part), "boost": points }
        }),
    }
}

/// A regular expression (Lucene's syntax) for compact titles that contain a 초성 pattern: an
/// initial consonant stands for the range of syllables that begin with it.
pub fn chosung_regexp(pattern: &str) -> String {
    let mut regexp = String::from(".*");
    for c in text::normalize(pattern).chars().filter(|c| *c != ' ') {
        match text::syllables_of(c) {
            Some((first, last)) => regexp.push_str(&format!("[{first}-{last}]")),
            None if c.is_alphanumeric() => regexp.push(c),
            None => {
                regexp.push('\\');
                regexp.push(c);
            }
        }
    }
    regexp.push_str(".*");
    regexp
}

/// The scoring query for a text; `None` when nothing can match.
pub fn text_query(text: &SearchText) -> Option<Value> {
    let query = translate(&text_plan(text)?);
    Some(match &text.chosung {
        // The grams find candidates; the title must hold the pattern in order.
        Some(pattern) => json!({ "bool": {
            "must": [query],
            "filter": [{ "regexp": { "title_key": { "value": chosung_regexp(pattern) } } }],
        } }),
        None => query,
    })
}

/// Which filter a clause is, so each facet can leave its own out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Facet {
    Department,
    Credits,
    Weekday,
    Seats,
}

fn filter_clauses(filter: &SearchFilter, full: &[i64]) -> Vec<(Facet, Value)> {
    let mut clauses = Vec::new();
    if let Some(department) = &filter.department {
        clauses.push((
            Facet::Department,
            json!({ "term": { "department": department } }),
        ));
    }
    if let Some(credits) = filter.credits {
        clauses.push((
            Facet::Credits,
            json!({ "term": { "credits": credits.get() } }),
        ));
    }
    if let Some(day) = filter.weekday {
        clauses.push((
            Facet::Weekday,
            json!({ "term": { "weekdays": day.index() } }),
        ));
    }
    if filter.has_seats && !full.is_empty() {
        let excluded: Vec<Value> = full
            .chunks(MAX_TERMS)
            .map(|ids| json!({ "terms": { "id": ids } }))
            .collect();
        clauses.push((Facet::Seats, json!({ "bool": { "must_not": excluded } })));
    }
    clauses
}

fn all_but(clauses: &[(Facet, Value)], facet: Option<Facet>) -> Value {
    let kept: Vec<&Value> = clauses
        .iter()
        .filter(|(f, _)| Some(*f) != facet)
        .map(|(_, clause)| clause)
        .collect();
    json!({ "bool": { "filter": kept } })
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum From {
    /// After this many hits.
    Skip(usize),
    /// After the hit with these sort values (points, order, id).
    After(f64, u64, i64),
}

/// The body of one search: the text scores, the filters apply to the hits (`post_filter`),
/// each facet counts under every filter but its own, hits sort by points, code order, id.
/// `full` are the courses without a free seat, for `has_seats`.
pub fn query_body(request: &SearchRequest, from: From, size: usize, full: &[i64]) -> Value {
    let query = match &request.text {
        Some(text) => text_query(text).unwrap_or_else(|| json!({ "match_none": {} })),
        None => json!({ "constant_score": { "filter": { "match_all": {} }, "boost": 1.0 } }),
    };
    let clauses = filter_clauses(&request.filter, full);
    let mut body = json!({
        "query": query,
        "post_filter": all_but(&clauses, None),
        "sort": [{ "_score": "desc" }, { "order": "asc" }, { "id": "asc" }],
        "size": size,
        "track_total_hits": true,
        "_source": ["course"],
    });
    match from {
        From::Skip(skip) => body["from"] = json!(skip),
        From::After(points, order, id) => body["search_after"] = json!([points, order, id]),
    }
    if request.facets {
        let facet = |facet, field: &str, size: usize| {
            json!({
                "filter": all_but(&clauses, Some(facet)),
                "aggs": { "values": { "terms": { "field": field, "size": size } } },
            })
        };
        body["aggs"] = json!({
            "department": facet(Facet::Department, "department", MAX_DEPARTMENTS),
            "credits": facet(Facet::Credits, "credits", 10),
            "weekday": facet(Facet::Weekday, "weekdays", 10),
        });
    }
    body
}

/// The buckets of a facet: (key, hits).
fn buckets<'a>(response: &'a Value, facet: &str) -> impl Iterator<Item = (&'a Value, u64)> {
    response["aggregations"][facet]["values"]["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| (&b["key"], b["doc_count"].as_u64().unwrap_or(0)))
}

/// A hit's sort values: points, code order, id.
fn sort_values(hit: &Value) -> Option<(f64, u64, i64)> {
    let sort = &hit["sort"];
    Some((sort[0].as_f64()?, sort[1].as_u64()?, sort[2].as_i64()?))
}

/// The course a hit or a document answer carries in its `_source`.
fn source_course(doc: &Value) -> Option<Course> {
    serde_json::from_value::<StoredCourse>(doc["_source"]["course"].clone())
        .ok()
        .and_then(StoredCourse::into_course)
}

/// Reads the answer to `GET {alias}/_doc/{id}`: the course with seats from `seats`, or `None`
/// when the index does not hold it.
pub fn read_document(
    status: StatusCode,
    body: &Value,
    id: CourseId,
    seats: &SeatBoard,
) -> Result<Option<Course>, SearchError> {
    if status == StatusCode::NOT_FOUND && body["found"] == false {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(elastic_error(status, body));
    }
    let mut course = source_course(body)
        .filter(|course| course.id == id)
        .map(Arc::new)
        .ok_or_else(|| {
            SearchError::Index("Elasticsearch answered without a stored course".into())
        })?;
    live_seats([&mut course], seats);
    Ok(Some(Arc::unwrap_or_clone(course)))
}

/// Reads a search response into hits with seats from `seats`.
pub fn read_results(
    response: &Value,
    facets: bool,
    seats: &SeatBoard,
) -> Result<SearchResults, SearchError> {
    let bad = |what: &str| SearchError::Index(format!("Elasticsearch answered without {what}"));
    let mut hits = Vec::new();
    for hit in response["hits"]["hits"]
        .as_array()
        .ok_or_else(|| bad("hits"))?
    {
        let (points, order, id) = sort_values(hit).ok_or_else(|| bad("sort values"))?;
        let course = source_course(hit).ok_or_else(|| bad("a stored course"))?;
        hits.push(Hit {
            rank: Rank {
                points: points.round().max(0.0) as u32,
                order,
                id,
            },
            course: Arc::new(course),
        });
    }
    live_seats(hits.iter_mut().map(|h| &mut h.course), seats);
    let total = response["hits"]["total"]["value"]
        .as_u64()
        .ok_or_else(|| bad("a total"))?;
    let facets = facets.then(|| {
        let numbered =
            |facet| buckets(response, facet).filter_map(|(key, n)| Some((key.as_u64()?, n)));
        let credits = slots(numbered("credits"));
        let weekday = slots(numbered("weekday"));
        let departments = buckets(response, "department")
            .filter_map(|(key, n)| Some((key.as_str()?.to_owned(), n)))
            .collect::<Vec<_>>();
        Facets::from_counts(departments, credits, weekday)
    });
    Ok(SearchResults {
        hits,
        total,
        facets,
    })
}

/// Capacity and seats taken as indexed, per course: what `has_seats` needs besides the live
/// counter.
type Capacities = HashMap<i64, (u32, u32)>;

fn record(capacities: &mut Capacities, courses: &[Course]) {
    for course in courses {
        capacities.insert(course.id.0, (course.spec.capacity, course.enrolled));
    }
}

/// The catalog in Elasticsearch.
pub struct ElasticIndex {
    client: Elasticsearch,
    alias: String,
    capacities: RwLock<Capacities>,
    /// The watermark last written to the index's `_meta`.
    written: Mutex<Option<i128>>,
}

fn unavailable(error: elasticsearch::Error) -> SearchError {
    SearchError::Unavailable(format!("Elasticsearch: {error}"))
}

/// The JSON of a response, or what Elasticsearch said went wrong.
async fn json_of(
    response: Result<elasticsearch::http::response::Response, elasticsearch::Error>,
) -> Result<Value, SearchError> {
    let response = response.map_err(unavailable)?;
    let status = response.status_code();
    let body: Value = response.json().await.map_err(unavailable)?;
    if status.is_success() {
        return Ok(body);
    }
    Err(elastic_error(status, &body))
}

fn elastic_error(status: StatusCode, body: &Value) -> SearchError {
    let error = &body["error"];
    let kind = error["type"].as_str().unwrap_or("error");
    let reason: String = error["reason"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(300)
        .collect();
    let message = format!("Elasticsearch answered {status}: {kind}: {reason}");
    match status.is_server_error() {
        true => SearchError::Unavailable(message),
        false => SearchError::Index(message),
    }
}

/// Whether an error answer says the index exists already.
fn is_already_there(body: &Value) -> bool {
    body["error"]["type"] == "resource_already_exists_exception"
}

/// The Unix nanoseconds of a watermark.
fn nanos(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos()
}

impl ElasticIndex {
    /// Connects to `url` (credentials may be in it: `http://user:password@host:9200`), puts
    /// the template, and makes the alias `alias` with an empty index behind it if there is none
    /// (or if its index is of another schema version).
    pub async fn open(url: &str, alias: &str) -> Result<ElasticIndex, SearchError> {
        let mut url = Url::parse(url)
            .map_err(|e| SearchError::Index(format!("CLASSMATE_ELASTICSEARCH_URL: {e}")))?;
        let credentials = match url.username() {
            "" => None,
            user => Some(Credentials::Basic(
                percent_decoded(user),
                percent_decoded(url.password().unwrap_or("")),
            )),
        };
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(TIMEOUT)
            .disable_proxy();
        if let Some(credentials) = credentials {
            transport = transport.auth(credentials);
        }
        let transport = transport
            .build()
            .map_err(|e| SearchError::Index(format!("Elasticsearch client: {e}")))?;
        let index = ElasticIndex {
            client: Elasticsearch::new(transport),
            alias: alias.to_owned(),
            capacities: RwLock::default(),
            written: Mutex::new(None),
        };
        index.prepare().await?;
        let capacities = index.read_capacities().await?;
        *index.capacities.write().unwrap_or_else(|e| e.into_inner()) = capacities;
        Ok(index)
    }

    async fn prepare(&self) -> Result<(), SearchError> {
        json_of(
            self.client
                .indices()
                .put_index_template(IndicesPutIndexTemplateParts::Name(TEMPLATE))
                .body(template(&self.alias))
                .send()
                .await,
        )
        .await?;
        let current = self.current().await?;
        let meta = match current.first() {
            Some(name) => self.meta(name).await?,
            None => Value::Null,
        };
        if current.is_empty() {
            // Named after the schema, not the time: processes starting together make the same
            // one, and the alias ends up on one index.
            let name = format!("{}-v{SCHEMA_VERSION}", self.alias);
            self.create_index(&name).await?;
            self.point_alias(&name, &[]).await?;
        } else if meta["schema"].as_u64() != Some(u64::from(SCHEMA_VERSION)) {
            let name = self.new_index().await?;
            self.point_alias(&name, &current).await?;
        }
        Ok(())
    }

    /// The indices behind the alias.
    async fn current(&self) -> Result<Vec<String>, SearchError> {
        let response = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[&self.alias]))
            .send()
            .await
            .map_err(unavailable)?;
        if response.status_code() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = json_of(Ok(response)).await?;
        Ok(body
            .as_object()
            .map(|indices| indices.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Creates an empty index for the alias, named by the time (the template gives it its
    /// settings).
    async fn new_index(&self) -> Result<String, SearchError> {
        let ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let name = format!("{}-{ms}", self.alias);
        self.create_index(&name).await?;
        Ok(name)
    }

    /// Creates index `name`; one that already exists is fine.
    async fn create_index(&self, name: &str) -> Result<(), SearchError> {
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(name))
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status_code();
        let body: Value = response.json().await.map_err(unavailable)?;
        match status.is_success() || is_already_there(&body) {
            true => Ok(()),
            false => Err(elastic_error(status, &body)),
        }
    }

    /// Moves the alias from `old` to `name` in one request, then deletes `old`.
    async fn point_alias(&self, name: &str, old: &[String]) -> Result<(), SearchError> {
        let mut actions: Vec<Value> = old
            .iter()
            .map(|index| json!({ "remove": { "index": index, "alias": self.alias } }))
            .collect();
        actions
            .push(json!({ "add": { "index": name, "alias": self.alias, "is_write_index": true } }));
        json_of(
            self.client
                .indices()
                .update_aliases()
                .body(json!({ "actions": actions }))
                .send()
                .await,
        )
        .await?;
        let old: Vec<&str> = old
            .iter()
            .map(String::as_str)
            .filter(|o| *o != name)
            .collect();
        if !old.is_empty() {
            json_of(
                self.client
                    .indices()
                    .delete(IndicesDeleteParts::Index(&old))
                    .send()
                    .await,
            )
            .await?;
        }
        Ok(())
    }

    /// The `_meta` of an index's mapping.
    async fn meta(&self, index: &str) -> Result<Value, SearchError> {
        let body = json_of(
            self.client
                .indices()
                .get_mapping(IndicesGetMappingParts::Index(&[index]))
                .send()
                .await,
        )
        .await?;
        Ok(body
            .as_object()
            .and_then(|indices| indices.values().next())
            .map(|mapping| mapping["mappings"]["_meta"].clone())
            .unwrap_or(Value::Null))
    }

    async fn write_meta(&self, index: &str, watermark: Watermark) -> Result<(), SearchError> {
        let Some(settled) = watermark.settled.map(nanos) else {
            return Ok(());
        };
        if *self.written.lock().unwrap_or_else(|e| e.into_inner()) == Some(settled) {
            return Ok(());
        }
        json_of(
            self.client
                .indices()
                .put_mapping(IndicesPutMappingParts::Index(&[index]))
                .body(json!({ "_meta": {
                    "schema": SCHEMA_VERSION,
                    "settled_ns": settled.to_string(),
                } }))
                .send()
                .await,
        )
        .await?;
        *self.written.lock().unwrap_or_else(|e| e.into_inner()) = Some(settled);
        Ok(())
    }

    /// Writes courses into `index`; `refresh` waits until searches see them.
    async fn bulk(
        &self,
        index: &str,
        courses: &[Course],
        refresh: bool,
    ) -> Result<(), SearchError> {
        for chunk in courses.chunks(BULK) {
            let mut lines: Vec<JsonBody<Value>> = Vec::with_capacity(chunk.len() * 2);
            for course in chunk {
                lines.push(json!({ "index": { "_id": course.id.0.to_string() } }).into());
                lines.push(document(course).into());
            }
            let request = self.client.bulk(BulkParts::Index(index)).body(lines);
            let request = match refresh {
                true => request.refresh(Refresh::WaitFor),
                false => request,
            };
            let answer = json_of(request.send().await).await?;
            if answer["errors"].as_bool() == Some(true) {
                let first = answer["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|item| item["index"]["error"]["reason"].as_str())
                    .unwrap_or("unknown");
                return Err(SearchError::Index(format!(
                    "Elasticsearch refused a course: {first}"
                )));
            }
        }
        Ok(())
    }

    /// Every course's capacity and indexed seats, read from the index.
    async fn read_capacities(&self) -> Result<Capacities, SearchError> {
        let mut capacities = Capacities::new();
        let mut after: Option<i64> = None;
        loop {
            let mut body = json!({
                "size": MAX_WINDOW,
                "sort": [{ "id": "asc" }],
                "_source": ["course.capacity", "course.enrolled"],
                "query": { "match_all": {} },
            });
            if let Some(id) = after {
                body["search_after"] = json!([id]);
            }
            let page = self.search_raw(&body).await?;
            let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
            for hit in &hits {
                let course = &hit["_source"]["course"];
                if let (Some(id), Some(capacity)) = (
                    hit["sort"][0].as_i64(),
                    course["capacity"]
                        .as_u64()
                        .and_then(|c| u32::try_from(c).ok()),
                ) {
                    let enrolled = course["enrolled"].as_u64().unwrap_or(0) as u32;
                    capacities.insert(id, (capacity, enrolled));
                    after = Some(id);
                }
            }
            if hits.len() < MAX_WINDOW {
                return Ok(capacities);
            }
        }
    }

    async fn search_raw(&self, body: &Value) -> Result<Value, SearchError> {
        json_of(
            self.client
                .search(SearchParts::Index(&[&self.alias]))
                .body(body)
                .send()
                .await,
        )
        .await
    }

    /// The courses without a free seat, by the live counter.
    fn full(&self, seats: &SeatBoard) -> Vec<i64> {
        let capacities = self.capacities.read().unwrap_or_else(|e| e.into_inner());
        let view = seats.view();
        let mut full: Vec<i64> = capacities
            .iter()
            .filter(|(id, (capacity, enrolled))| {
                view.enrolled(CourseId(**id)).unwrap_or(*enrolled) >= *capacity
            })
            .map(|(id, _)| *id)
            .collect();
        full.sort_unstable();
        full
    }

    /// Where a window starts, walking past `MAX_WINDOW` with `search_after` when it must.
    async fn start(&self, request: &SearchRequest, full: &[i64]) -> Result<From, SearchError> {
        match request.window {
            Window::After(None) => Ok(From::Skip(0)),
            Window::After(Some(rank)) => {
                Ok(From::After(f64::from(rank.points), rank.order, rank.id))
            }
            Window::Skip(skip) if skip + request.limit <= MAX_WINDOW => Ok(From::Skip(skip)),
            Window::Skip(skip) => {
                let walk = SearchRequest {
                    facets: false,
                    ..request.clone()
                };
                let (mut left, mut from) = (skip, From::Skip(0));
                while left > 0 {
                    let size = left.min(MAX_WINDOW);
                    let mut body = query_body(&walk, from, size, full);
                    body["_source"] = json!(false);
                    let page = self.search_raw(&body).await?;
                    let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
                    let Some(last) = hits.last() else {
                        break;
                    };
                    let (points, order, id) = sort_values(last).ok_or_else(|| {
                        SearchError::Index("Elasticsearch answered without sort values".into())
                    })?;
                    from = From::After(points, order, id);
                    left -= hits.len();
                    if hits.len() < size {
                        break;
                    }
                }
                Ok(from)
            }
        }
    }

    fn remember(&self, courses: &[Course]) {
        record(
            &mut self.capacities.write().unwrap_or_else(|e| e.into_inner()),
            courses,
        );
    }
}

fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[async_trait]
impl SearchIndex for ElasticIndex {
    fn backend(&self) -> SearchBackend {
        SearchBackend::Elasticsearch
    }

    async fn course(
        &self,
        id: CourseId,
        seats: &Arc<SeatBoard>,
    ) -> Result<Option<Arc<Course>>, SearchError> {
        let response = self
            .client
            .get(GetParts::IndexId(&self.alias, &id.0.to_string()))
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status_code();
        let body: Value = response.json().await.map_err(unavailable)?;
        Ok(read_document(status, &body, id, seats)?.map(Arc::new))
    }

    async fn search(
        &self,
        request: &SearchRequest,
        seats: &Arc<SeatBoard>,
    ) -> Result<SearchResults, SearchError> {
        let full = match request.filter.has_seats {
            true => self.full(seats),
            false => Vec::new(),
        };
        let from = self.start(request, &full).await?;
        let body = query_body(request, from, request.limit, &full);
        let response = self.search_raw(&body).await?;
        read_results(&response, request.facets, seats)
    }

    async fn apply(&self, courses: &[Course], watermark: Watermark) -> Result<(), SearchError> {
        if !courses.is_empty() {
            self.bulk(&self.alias, courses, true).await?;
            self.remember(courses);
        }
        self.write_meta(&self.alias, watermark).await
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild + '_>, SearchError> {
        let name = self.new_index().await?;
        Ok(Box::new(ElasticRebuild {
            index: self,
            name,
            capacities: Capacities::new(),
        }))
    }

    async fn status(&self) -> Result<IndexStatus, SearchError> {
        let body = json!({
            "size": 0,
            "track_total_hits": true,
            "aggs": { "min": { "min": { "field": "id" } }, "max": { "max": { "field": "id" } } },
        });
        let response = self.search_raw(&body).await?;
        let documents = response["hits"]["total"]["value"].as_u64().unwrap_or(0);
        let id = |which: &str| {
            response["aggregations"][which]["value"]
                .as_f64()
                .unwrap_or(0.0) as i64
        };
        let settled = match self.current().await?.first() {
            Some(index) => self.meta(index).await?["settled_ns"]
                .as_str()
                .and_then(|ns| ns.parse::<i128>().ok())
                .and_then(|ns| OffsetDateTime::from_unix_timestamp_nanos(ns).ok()),
            None => None,
        };
        Ok(IndexStatus {
            backend: SearchBackend::Elasticsearch,
            documents,
            watermark: Watermark { settled },
            ids: (id("min"), id("max")),
        })
    }
}

/// A new index being filled behind the alias's back.
struct ElasticRebuild<'a> {
    index: &'a ElasticIndex,
    name: String,
    capacities: Capacities,
}

#[async_trait]
impl Rebuild for ElasticRebuild<'_> {
    async fn add(&mut self, courses: &[Course]) -> Result<(), SearchError> {
        self.index.bulk(&self.name, courses, false).await?;
        record(&mut self.capacities, courses);
        Ok(())
    }

    async fn finish(self: Box<Self>, watermark: Watermark) -> Result<(), SearchError> {
        let index = self.index;
        json_of(
            index
                .client
                .indices()
                .refresh(IndicesRefreshParts::Index(&[&self.name]))
                .send()
                .await,
        )
        .await?;
        *index.written.lock().unwrap_or_else(|e| e.into_inner()) = None;
        index.write_meta(&self.name, watermark).await?;
        let old = index.current().await?;
        index.point_alias(&self.name, &old).await?;
        *index.capacities.write().unwrap_or_else(|e| e.into_inner()) = self.capacities;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Credits, Weekday};
    use crate::search::contract::course;
    use crate::search::plan::points;

    fn request(q: &str) -> SearchRequest {
        SearchRequest::first_page(q, 20)
    }

    #[test]
    fn the_template_analyses_titles_with_nori_and_the_user_dictionary() {
        let t = template("classmate-courses");
        assert_eq!(t["index_patterns"], json!(["classmate-courses-*"]));
        let analysis = &t["template"]["settings"]["analysis"];
        let nori = &analysis["tokenizer"]["classmate_nori"];
        assert_eq!(nori["type"], "nori_tokenizer");
        assert_eq!(nori["decompound_mode"], "mixed");
        let rules = nori["user_dictionary_rules"].as_array().unwrap();
        assert!(rules.len() >= 40);
        assert!(rules.contains(&json!("자료구조 자료 구조")));
        assert!(rules.iter().all(|r| !r.as_str().unwrap().starts_with('#')));
        let analyzer = &analysis["analyzer"]["classmate_korean"];
        assert_eq!(analyzer["tokenizer"], "classmate_nori");
        let filters = analyzer["filter"].as_array().unwrap();
        for wanted in ["cjk_width", "lowercase", "classmate_pos", "classmate_stop"] {
            assert!(filters.contains(&json!(wanted)), "{wanted}");
        }
        assert_eq!(
            analysis["filter"]["classmate_pos"]["type"],
            "nori_part_of_speech"
        );
        assert!(
            analysis["filter"]["classmate_stop"]["stopwords"]
                .as_array()
                .unwrap()
                .contains(&json!("및"))
        );
        let mappings = &t["template"]["mappings"];
        assert_eq!(mappings["dynamic"], "strict");
        let properties = mappings["properties"].as_object().unwrap();
        assert_eq!(properties["title"]["analyzer"], "classmate_korean");
        for field in TermField::ALL {
            assert_eq!(
                properties[field.name()]["type"],
                "keyword",
                "{}",
                field.name()
            );
        }
        assert_eq!(properties["course"]["enabled"], false);
    }

    #[test]
    fn a_document_has_every_mapped_field_and_reads_back() {
        let mut course = course(7, "CSE2010-01", "자료구조", "김민준");
        course.enrolled = 3;
        let doc = document(&course);
        let mapped = template("a")["template"]["mappings"]["properties"].clone();
        let mapped = mapped.as_object().unwrap();
        let fields = doc.as_object().unwrap();
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            mapped.keys().collect::<Vec<_>>(),
            "a strict mapping refuses any field it does not name"
        );
        assert_eq!(doc["exact"], json!(["자료구조"]));
        assert_eq!(doc["weekdays"], json!([Weekday::Mon.index()]));
        assert!(doc["code"].as_array().unwrap().contains(&json!("cse2010")));
        let back: StoredCourse = serde_json::from_value(doc["course"].clone()).unwrap();
        let back = back.into_course().unwrap();
        assert_eq!(back.spec.code, course.spec.code);
        assert_eq!(back.enrolled, 3);
    }

    /// The `constant_score` boosts anywhere under `query`.
    fn boosts(query: &Value, out: &mut Vec<f64>) {
        match query {
            Value::Object(map) => {
                if let Some(score) = map.get("constant_score") {
                    out.push(score["boost"].as_f64().unwrap());
                }
                map.values().for_each(|v| boosts(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| boosts(v, out)),
            _ => {}
        }
    }

    #[test]
    fn a_query_scores_with_the_points_of_the_plan() {
        let body = query_body(&request("자료구조"), From::Skip(0), 20, &[]);
        let mut found = Vec::new();
        boosts(&body["query"], &mut found);
        for wanted in [
            points::EXACT_TITLE,
            points::TITLE_PREFIX,
            points::WORD,
            points::PART,
        ] {
            assert!(found.contains(&f64::from(wanted)), "{wanted} in {found:?}");
        }
        let text = body["query"].to_string();
        assert!(text.contains(r#""term":{"exact":"자료구조"}"#), "{text}");
        assert!(
            text.contains(r#""match":{"title":{"operator":"and","query":"자료구조"}}"#),
            "{text}"
        );
        assert_eq!(body["sort"][0], json!({ "_score": "desc" }));
        assert_eq!(body["size"], 20);
        assert_eq!(body["from"], 0);
        // Typos are one edit, on Latin words only.
        let english = query_body(&request("algoritm"), From::Skip(0), 20, &[]).to_string();
        assert!(english.contains(r#""fuzziness":1"#), "{english}");
        let korean = body.to_string();
        assert!(!korean.contains("fuzzy"));
    }

    /// The query kinds used anywhere under `query`: keys whose value is an object.
    fn kinds(query: &Value, out: &mut Vec<String>) {
        match query {
            Value::Object(map) => {
                for (key, value) in map {
                    if value.is_object() {
                        out.push(key.clone());
                    }
                    kinds(value, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| kinds(v, out)),
            _ => {}
        }
    }

    #[test]
    fn query_syntax_is_only_ever_a_term() {
        for q in [
            r#"*?~^"():!"#,
            "AND OR NOT",
            "a* OR b~2",
            "title:자료",
            "자료.*",
        ] {
            let body = query_body(&request(q), From::Skip(0), 20, &[]);
            let mut used = Vec::new();
            kinds(&body["query"], &mut used);
            for operator in [
                "query_string",
                "simple_query_string",
                "wildcard",
                "prefix",
                "regexp",
            ] {
                assert!(!used.iter().any(|k| k == operator), "{q}: {used:?}");
            }
        }
        let nothing = query_body(&request("!!!"), From::Skip(0), 20, &[]);
        assert_eq!(nothing["query"], json!({ "match_none": {} }));
    }

    #[test]
    fn chosung_is_a_regexp_of_syllable_ranges() {
        assert_eq!(chosung_regexp("ㅈㄹ구조"), ".*[자-짛][라-맇]구조.*");
        assert_eq!(chosung_regexp("ㄱ.a"), ".*[가-깋]\\.a.*");
        let body = query_body(&request("ㅈㄹㄱㅈ"), From::Skip(0), 20, &[]);
        assert_eq!(
            body["query"]["bool"]["filter"][0]["regexp"]["title_key"]["value"],
            ".*[자-짛][라-맇][가-깋][자-짛].*"
        );
        let (first, last) = text::syllables_of('ㅈ').unwrap();
        assert_eq!(text::initial_of(first), Some('ㅈ'));
        assert_eq!(text::initial_of(last), Some('ㅈ'));
        assert_ne!(
            text::initial_of(char::from_u32(last as u32 + 1).unwrap()),
            Some('ㅈ')
        );
    }

    #[test]
    fn filters_apply_to_hits_and_each_facet_counts_without_its_own() {
        let mut req = request("자료");
        req.filter = SearchFilter {
            department: Some("컴퓨터공학과".into()),
            weekday: Some(Weekday::Mon),
            credits: Some(Credits::new(3).unwrap()),
            has_seats: true,
        };
        let body = query_body(&req, From::After(300.0, 12, 5), 10, &[4, 9]);
        let post = body["post_filter"]["bool"]["filter"].as_array().unwrap();
        assert_eq!(post.len(), 4);
        assert_eq!(body["search_after"], json!([300.0, 12, 5]));
        assert!(body.get("from").is_none());
        let department = body["aggs"]["department"]["filter"]["bool"]["filter"].to_string();
        assert!(!department.contains("컴퓨터공학과"));
        assert!(department.contains(r#""credits":3"#));
        assert!(department.contains(r#""id":[4,9]"#));
        let credits = body["aggs"]["credits"]["filter"]["bool"]["filter"].to_string();
        assert!(credits.contains("컴퓨터공학과"));
        assert!(!credits.contains(r#""credits":3"#));
        let weekday = body["aggs"]["weekday"]["filter"]["bool"]["filter"].to_string();
        assert!(!weekday.contains("weekdays"));
        assert_eq!(
            body["aggs"]["weekday"]["aggs"]["values"]["terms"]["field"],
            "weekdays"
        );
        // More full courses than one terms clause takes: several clauses.
        let many: Vec<i64> = (0..(MAX_TERMS as i64 + 5)).collect();
        let body = query_body(&req, From::Skip(0), 10, &many);
        let seats = body["post_filter"]["bool"]["filter"][3]["bool"]["must_not"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(seats, 2);
    }

    #[test]
    fn a_document_answer_reads_into_the_course_with_live_seats() {
        let seats = SeatBoard::default();
        let (id, other) = (CourseId(3), CourseId(4));
        let stored = StoredCourse::from(&course(3, "CSE2010-01", "자료구조", "김민준"));
        let got = json!({ "_id": "3", "found": true, "_source": { "course": stored } });
        seats.record(&[(id, 10)]);
        let read = read_document(StatusCode::OK, &got, id, &seats)
            .unwrap()
            .unwrap();
        assert_eq!((read.id, read.enrolled, read.seats_left()), (id, 10, 0));
        let missing = json!({ "_id": "4", "found": false });
        assert!(
            read_document(StatusCode::NOT_FOUND, &missing, other, &seats)
                .unwrap()
                .is_none()
        );
        // Another course's document, or none, is the index's fault, never a course.
        assert!(read_document(StatusCode::OK, &got, other, &seats).is_err());
        let gone =
            json!({ "error": { "type": "index_not_found_exception", "reason": "no such index" } });
        assert!(matches!(
            read_document(StatusCode::NOT_FOUND, &gone, id, &seats),
            Err(SearchError::Index(_))
        ));
        let down = json!({ "error": { "type": "unavailable", "reason": "busy" } });
        assert!(matches!(
            read_document(StatusCode::SERVICE_UNAVAILABLE, &down, id, &seats),
            Err(SearchError::Unavailable(_))
        ));
    }

    #[test]
    fn a_response_reads_into_hits_with_live_seats_and_facets() {
        let course = StoredCourse::from(&course(3, "CSE2010-01", "자료구조", "김민준"));
        let response = json!({
            "hits": {
                "total": { "value": 12, "relation": "eq" },
                "hits": [{ "_source": { "course": course }, "sort": [1450.0, 99, 3] }],
            },
            "aggregations": {
                "department": { "values": { "buckets": [{ "key": "컴퓨터공학과", "doc_count": 12 }] } },
                "credits": { "values": { "buckets": [{ "key": 3, "doc_count": 10 }, { "key": 2, "doc_count": 2 }] } },
                "weekday": { "values": { "buckets": [{ "key": 0, "doc_count": 7 }] } },
            },
        });
        let seats = SeatBoard::default();
        let mark = seats.begin_refresh(time::OffsetDateTime::now_utc());
        seats.refresh(mark, [(CourseId(3), 39)]);
        let found = read_results(&response, true, &seats).unwrap();
        assert_eq!(found.total, 12);
        assert_eq!(
            found.hits[0].rank,
            Rank {
                points: 1450,
                order: 99,
                id: 3
            }
        );
        assert_eq!(found.hits[0].course.enrolled, 39);
        let facets = found.facets.unwrap();
        assert_eq!(facets.department, vec![("컴퓨터공학과".into(), 12)]);
        assert_eq!(facets.credits, vec![(2, 2), (3, 10)]);
        assert_eq!(facets.weekday, vec![(Weekday::Mon, 7)]);
        assert!(read_results(&json!({ "error": "x" }), false, &seats).is_err());
    }

    #[test]
    fn an_error_answer_keeps_its_reason_and_a_5xx_is_unavailable() {
        let body =
            json!({ "error": { "type": "index_not_found_exception", "reason": "no such index" } });
        let error = elastic_error(StatusCode::NOT_FOUND, &body);
        assert!(matches!(&error, SearchError::Index(m) if m.contains("no such index")));
        let error = elastic_error(StatusCode::SERVICE_UNAVAILABLE, &body);
        assert!(matches!(error, SearchError::Unavailable(_)));
        assert!(!is_already_there(&body));
        let exists = json!({ "error": { "type": "resource_already_exists_exception" } });
        assert!(is_already_there(&exists));
    }

    /// The contract suite against a real Elasticsearch (with the analysis-nori plugin), when
    /// `CLASSMATE_TEST_ES_URL` names one; each harness has an alias of its own.
    mod live {
        use std::sync::atomic::{AtomicU64, Ordering};

        use super::*;
        use crate::domain::CourseSpec;
        use crate::search::contract::{Harness, contract_tests};

        struct Live {
            index: Mutex<Option<Arc<ElasticIndex>>>,
            next_id: AtomicU64,
        }

        impl Live {
            async fn new() -> Live {
                Live {
                    index: Mutex::new(None),
                    next_id: AtomicU64::new(1),
                }
            }

            fn stored(&self, specs: &[CourseSpec]) -> Vec<Course> {
                specs
                    .iter()
                    .map(|spec| Course {
                        id: CourseId(self.next_id.fetch_add(1, Ordering::Relaxed) as i64),
                        spec: spec.clone(),
                        enrolled: 0,
                    })
                    .collect()
            }

            fn index(&self) -> Arc<ElasticIndex> {
                self.index.lock().unwrap().clone().expect("an index made")
            }
        }

        #[async_trait]
        impl Harness for Live {
            async fn index(&self, specs: &[CourseSpec]) -> (Arc<dyn SearchIndex>, Vec<Course>) {
                let url = std::env::var("CLASSMATE_TEST_ES_URL").expect("CLASSMATE_TEST_ES_URL");
                let alias = format!(
                    "classmate-test-{}-{}",
                    std::process::id(),
                    OffsetDateTime::now_utc().unix_timestamp_nanos()
                );
                let index = Arc::new(ElasticIndex::open(&url, &alias).await.unwrap());
                let courses = self.stored(specs);
                index.apply(&courses, Watermark::default()).await.unwrap();
                *self.index.lock().unwrap() = Some(index.clone());
                (index, courses)
            }

            async fn change(&self, courses: &[Course], new: &[CourseSpec]) -> Vec<Course> {
                let mut all = courses.to_vec();
                all.extend(self.stored(new));
                self.index()
                    .apply(&all, Watermark::default())
                    .await
                    .unwrap();
                all
            }

            async fn fill(&self, course: &Course, seats: &SeatBoard) {
                seats.record(&[(course.id, course.spec.capacity)]);
            }
        }

        contract_tests!(elasticsearch, Live::new(), when "CLASSMATE_TEST_ES_URL");
    }
}
