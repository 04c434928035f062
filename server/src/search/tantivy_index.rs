//! The default index: tantivy, on disk, one copy per server process.
//!
//! No tokenizer of tantivy's runs: every field is fed tokens made by [`text`] (words, Hangul
//! bigrams, edge n-grams, 초성 n-grams, code forms), and every query is built from terms, so
//! nothing a student types is ever parsed as query syntax. Each kind of match is a field of its
//! own with a fixed number of points ([`points`](super::plan::points)); a hit's points depend only on the course and
//! the query, so the ranking is stable and a cursor stays valid while the catalog changes.
//!
//! The directory holds generations (`gen-1`, `gen-2`, …) and a `CURRENT` file naming the live
//! one. A rebuild fills the next generation while the live one answers, then renames `CURRENT`
//! and swaps the reader: the swap is atomic for searches and survives a crash.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use async_trait::async_trait;
use lru::LruCache;
use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{ColumnValues, StrColumn};
use tantivy::directory::MmapDirectory;
use tantivy::index::SegmentId;
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::query::{BooleanQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::store::Compressor;
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{
    DocAddress, DocId, Index, IndexBuilder, IndexReader, IndexSettings, IndexWriter, ReloadPolicy,
    Score, SegmentOrdinal, SegmentReader, TantivyDocument, TantivyError, Term,
};
use time::OffsetDateTime;

use super::matches::{self, KeptMatches, Match, Matches, Packed, UNFILTERED_TOP, Unfiltered};
use super::plan::{Plan, TermField, compact, course_terms, text_plan};
use super::text::{self, hangul_bigrams};
use super::{
    Facets, Hit, IndexLocation, IndexStatus, Rank, Rebuild, SearchBackend, SearchError,
    SearchFilter, SearchIndex, SearchRequest, SearchResults, SearchText, StoredCourse, Watermark,
    Window, code_order, live_seats,
};
use crate::domain::{Course, CourseId, Weekday};
use crate::store::{SeatBoard, SeatView};

/// Bumped whenever the fields or their tokens change: an index of another version is rebuilt.
const SCHEMA_VERSION: u32 = 2;

/// Bytes per block of the document store: two or three courses.
const DOCSTORE_BLOCK: usize = 1024;

/// The writer's memory, tantivy's minimum for one indexing thread.
const WRITER_MEMORY: usize = 15_000_000;

/// The fields, by what they hold.
#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    doc: Field,
    /// One per [`TermField`], in its order.
    terms: [Field; TermField::ALL.len()],
}

impl Fields {
    fn get(&self, field: TermField) -> Field {
        self.terms[field as usize]
    }
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let tokens = || {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic),
        )
    };
    let fields = Fields {
        id: builder.add_u64_field("id", INDEXED | FAST),
        doc: builder.add_bytes_field("doc", STORED),
        terms: TermField::ALL.map(|f| builder.add_text_field(f.name(), tokens())),
    };
    builder.add_u64_field("order", FAST);
    builder.add_u64_field("capacity", FAST);
    builder.add_u64_field("enrolled", FAST);
    builder.add_u64_field("credits", FAST);
    builder.add_u64_field("weekdays", FAST);
    builder.add_text_field("department", STRING | FAST);
    builder.add_text_field("title_key", TextOptions::default().set_fast("raw"));
    (builder.build(), fields)
}

/// What a commit records beside the documents.
#[derive(Serialize, Deserialize)]
struct Payload {
    schema: u32,
    /// Unix nanoseconds up to which every change is in.
    settled_ns: Option<i128>,
}

fn pre_tokenized(tokens: impl IntoIterator<Item = String>) -> PreTokenizedString {
    let mut seen: Vec<String> = tokens.into_iter().filter(|t| !t.is_empty()).collect();
    seen.sort_unstable();
    seen.dedup();
    PreTokenizedString {
        text: String::new(),
        tokens: seen
            .into_iter()
            .enumerate()
            .map(|(position, text)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text,
                position_length: 1,
            })
            .collect(),
    }
}

fn document(schema: &Schema, fields: &Fields, course: &Course) -> TantivyDocument {
    let spec = &course.spec;
    let field = |name: &str| schema.get_field(name).expect("a field of the schema");
    let mut doc = TantivyDocument::default();
    doc.add_u64(fields.id, course.id.0.unsigned_abs());
    doc.add_bytes(
        fields.doc,
        &serde_json::to_vec(&StoredCourse::from(course)).expect("a course serializes"),
    );
    for (name, terms) in TermField::ALL.map(|f| (f.name(), course_terms(course, f))) {
        doc.add_pre_tokenized_text(field(name), pre_tokenized(terms));
    }
    doc.add_u64(field("order"), code_order(course));
    doc.add_u64(field("capacity"), u64::from(spec.capacity));
    doc.add_u64(field("enrolled"), u64::from(course.enrolled));
    doc.add_u64(field("credits"), u64::from(spec.credits.get()));
    let days = spec
        .meetings
        .iter()
        .fold(0u64, |mask, m| mask | 1 << m.weekday.index());
    doc.add_u64(field("weekdays"), days);
    doc.add_text(field("department"), &spec.department);
    doc.add_text(field("title_key"), compact(&spec.title));
    doc
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn all_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Must, q)).collect(),
    ))
}

/// The tantivy query for a plan.
fn translate(fields: &Fields, plan: &Plan) -> Box<dyn Query> {
    match plan {
        Plan::Term(field, text) => term(fields.get(*field), text),
        Plan::Typo(field, text) => Box::new(FuzzyTermQuery::new(
            Term::from_field_text(fields.get(*field), text),
            1,
            true,
        )),
        Plan::Part(word) => all_of(
            hangul_bigrams(word)
                .iter()
                .map(|g| term(fields.get(TermField::Gram), g))
                .collect(),
        ),
        Plan::All(parts) => all_of(parts.iter().map(|p| translate(fields, p)).collect()),
        Plan::Any(parts) => Box::new(BooleanQuery::new(
            parts
                .iter()
                .map(|p| (Occur::Should, translate(fields, p)))
                .collect(),
        )),
        Plan::Worth(points, part) => {
            Box::new(ConstScoreQuery::new(translate(fields, part), *points))
        }
    }
}

/// The query for a search text; `None` when nothing can match.
fn text_query(fields: &Fields, text: &SearchText) -> Option<Box<dyn Query>> {
    text_plan(text).map(|plan| translate(fields, &plan))
}

/// One generation of the index: its directory, reader and writer.
struct Generation {
    name: String,
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    /// Set once another generation replaced this one: its directory goes when the last search
    /// using it ends.
    retired: AtomicBool,
}

impl Drop for Generation {
    fn drop(&mut self) {
        if self.retired.load(Ordering::Acquire) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn index_error(error: TantivyError) -> SearchError {
    SearchError::Index(error.to_string())
}

impl Generation {
    /// The version of the index `searcher` sees: the generation's name and the reader's
    /// searcher generation (the second alone repeats across generations, since each reader
    /// counts from its own start).
    fn version(&self, searcher: &tantivy::Searcher) -> matches::Version {
        (self.name.clone(), searcher.generation().generation_id())
    }

    fn open(root: &Path, name: &str, schema: &Schema, fresh: bool) -> Result<Self, SearchError> {
        let dir = root.join(name);
        if fresh && dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let directory = MmapDirectory::open(&dir)
            .map_err(|e| SearchError::Index(format!("{}: {e}", dir.display())))?;
        let settings = IndexSettings {
            // Small blocks: a page of hits reads 20 courses from all over the store, and each
            // read copies its whole block (uncompressed: nothing to unpack).
            docstore_blocksize: DOCSTORE_BLOCK,
            docstore_compression: Compressor::None,
            docstore_compress_dedicated_thread: false,
            ..IndexSettings::default()
        };
        let index = IndexBuilder::new()
            .schema(schema.clone())
            .settings(settings)
            .open_or_create(directory)
            .map_err(index_error)?;
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(|e| match e {
                TantivyError::LockFailure(..) => SearchError::Locked(root.to_owned()),
                e => index_error(e),
            })?;
        if fresh {
            // Filled in bulk, then merged into one segment by `merge_all`.
            writer.set_merge_policy(Box::new(NoMergePolicy));
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error)?;
        Ok(Generation {
            name: name.to_owned(),
            dir,
            index,
            reader,
            writer: Mutex::new(writer),
            retired: AtomicBool::new(false),
        })
    }

    /// Merges every segment into one, then lets later writes merge as they come. A bulk fill
    /// leaves a segment per writer flush (nine for 100,000 courses), and every search pays for
    /// each segment: its term dictionaries, its columns, its scorers.
    fn merge_all(&self) -> Result<(), SearchError> {
        let segments = self.index.searchable_segment_ids().map_err(index_error)?;
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if segments.len() > 1 {
            writer.merge(&segments).wait().map_err(index_error)?;
            self.reader.reload().map_err(index_error)?;
        }
        writer.set_merge_policy(Box::new(LogMergePolicy::default()));
        Ok(())
    }

    fn payload(&self) -> Option<Payload> {
        let metas = self.index.load_metas().ok()?;
        serde_json::from_str(metas.payload.as_deref()?).ok()
    }

    fn watermark(&self) -> Watermark {
        let settled = self
            .payload()
            .and_then(|p| p.settled_ns)
            .and_then(|ns| OffsetDateTime::from_unix_timestamp_nanos(ns).ok());
        Watermark { settled }
    }

    /// Writes `courses` (replacing any with the same id) and commits with `watermark`.
    fn write(
        &self,
        schema: &Schema,
        fields: &Fields,
        courses: &[Course],
        watermark: Option<Watermark>,
    ) -> Result<(), SearchError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for course in courses {
            writer.delete_term(Term::from_field_u64(fields.id, course.id.0.unsigned_abs()));
            writer
                .add_document(document(schema, fields, course))
                .map_err(index_error)?;
        }
        if let Some(watermark) = watermark {
            let payload = Payload {
                schema: SCHEMA_VERSION,
                settled_ns: watermark.settled.map(OffsetDateTime::unix_timestamp_nanos),
            };
            let mut commit = writer.prepare_commit().map_err(index_error)?;
            commit.set_payload(&serde_json::to_string(&payload).expect("a payload serializes"));
            commit.commit().map_err(index_error)?;
            self.reader.reload().map_err(index_error)?;
        }
        Ok(())
    }
}

/// Where the index lives, and whether to remove it at the end.
struct Root {
    path: PathBuf,
    temporary: bool,
}

impl Drop for Root {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The tantivy index.
pub struct TantivyIndex {
    schema: Schema,
    fields: Fields,
    current: RwLock<Arc<Generation>>,
    /// The catalog in code order, for listings without text; rebuilt when the index changes.
    listing: Mutex<Option<Arc<Listing>>>,
    /// The matches of texts already searched, for the live version of the index.
    matches: KeptMatches,
    /// Each segment's columns, opened once.
    columns: Arc<OpenColumns>,
    /// Declared after `current`, so the generations close before a temporary root goes.
    root: Root,
}

static TEMPORARY: AtomicU64 = AtomicU64::new(0);

const CURRENT: &str = "CURRENT";

impl TantivyIndex {
    /// Opens the index at `location`, or makes an empty one. An index of another schema
    /// version is discarded (the sync fills the new one from the database).
    pub fn open(location: &IndexLocation) -> Result<TantivyIndex, SearchError> {
        let root = match location {
            IndexLocation::Dir(path) => Root {
                path: path.clone(),
                temporary: false,
            },
            IndexLocation::Temporary => Root {
                path: std::env::temp_dir().join(format!(
                    "classmate-search-{}-{}",
                    std::process::id(),
                    TEMPORARY.fetch_add(1, Ordering::Relaxed)
                )),
                temporary: true,
            },
        };
        std::fs::create_dir_all(&root.path)?;
        let (schema, fields) = schema();
        let named = std::fs::read_to_string(root.path.join(CURRENT))
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| is_generation(name));
        let generation = match named {
            Some(name) => {
                let generation = Generation::open(&root.path, &name, &schema, false)?;
                match generation.payload() {
                    Some(p) if p.schema == SCHEMA_VERSION => generation,
                    _ => {
                        drop(generation);
                        Self::start(&root.path, &schema, &fields, &next_generation(&name))?
                    }
                }
            }
            None => Self::start(&root.path, &schema, &fields, "gen-1")?,
        };
        Ok(TantivyIndex {
            schema,
            fields,
            current: RwLock::new(Arc::new(generation)),
            listing: Mutex::new(None),
            matches: KeptMatches::new(matches::CAPACITY),
            columns: Arc::new(OpenColumns::new()),
            root,
        })
    }

    /// A fresh, empty, committed generation named `name`, made current.
    fn start(
        root: &Path,
        schema: &Schema,
        fields: &Fields,
        name: &str,
    ) -> Result<Generation, SearchError> {
        let generation = Generation::open(root, name, schema, true)?;
        generation.write(schema, fields, &[], Some(Watermark::default()))?;
        make_current(root, name)?;
        Ok(generation)
    }

    /// Keeps at most `matches` matches of searched texts instead of [`matches::CAPACITY`]; 0
    /// keeps none, so every search walks the postings afresh (the criterion bench times the
    /// search itself).
    pub fn keeping(mut self, matches: usize) -> TantivyIndex {
        self.matches = KeptMatches::new(matches);
        self
    }

    fn live(&self) -> Arc<Generation> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn collect(
        &self,
        request: &SearchRequest,
        seats: &Arc<SeatBoard>,
    ) -> Result<SearchResults, SearchError> {
        let Some(text) = &request.text else {
            return self.list(request, seats);
        };
        let generation = self.live();
        let searcher = generation.reader.searcher();
        let version = generation.version(&searcher);
        let columns = self.columns.of(&searcher).map_err(index_error)?;
        let matches = match self.matches.get(&version, &text.raw) {
            Some(matches) => matches,
            None => {
                let matches = Arc::new(match text_query(&self.fields, text) {
                    Some(query) => searcher
                        .search(
                            query.as_ref(),
                            &Matching {
                                chosung: text.chosung.clone(),
                                columns: &columns,
                            },
                        )
                        .map_err(index_error)?,
                    None => Matches::default(),
                });
                self.matches.put(version, &text.raw, matches.clone());
                matches
            }
        };
        self.rank(request, seats, &matches, &searcher, &columns)
    }

    /// The page of a text's matches the request asks for, with the total and the facets, and
    /// seats from the live counter.
    fn rank(
        &self,
        request: &SearchRequest,
        seats: &Arc<SeatBoard>,
        matches: &Matches,
        searcher: &tantivy::Searcher,
        columns: &[Columns],
    ) -> Result<SearchResults, SearchError> {
        if request.filter == SearchFilter::default() {
            let unfiltered = match matches.unfiltered.get() {
                Some(unfiltered) => unfiltered,
                None => {
                    let ranked = Ranked {
                        filter: SearchFilter::default(),
                        after: None,
                        keep: UNFILTERED_TOP,
                        facets: true,
                    };
                    let found = ranked.scan(matches, seats, columns)?;
                    matches.unfiltered.get_or_init(|| Unfiltered {
                        top: found.top,
                        total: found.total,
                        facets: found.facets.into_facets(),
                    })
                }
            };
            if let Some(page) = unfiltered.page(request.window, request.limit) {
                return Ok(SearchResults {
                    hits: self.hits(page.iter().copied(), seats, searcher, columns)?,
                    total: unfiltered.total,
                    facets: request.facets.then(|| unfiltered.facets.clone()),
                });
            }
        }
        let (keep, skip) = match request.window {
            Window::After(_) => (request.limit, 0),
            Window::Skip(skip) => (skip + request.limit, skip),
        };
        let ranked = Ranked {
            filter: request.filter.clone(),
            after: match request.window {
                Window::After(cursor) => cursor,
                Window::Skip(_) => None,
            },
            keep,
            facets: request.facets,
        };
        let found = ranked.scan(matches, seats, columns)?;
        Ok(SearchResults {
            hits: self.hits(found.top.into_iter().skip(skip), seats, searcher, columns)?,
            total: found.total,
            facets: request.facets.then(|| found.facets.into_facets()),
        })
    }

    /// The courses at these places, read back, with seats from the live counter.
    fn hits(
        &self,
        page: impl ExactSizeIterator<Item = (Rank, DocAddress)>,
        seats: &SeatBoard,
        searcher: &tantivy::Searcher,
        columns: &[Columns],
    ) -> Result<Vec<Hit>, SearchError> {
        let mut hits = Vec::with_capacity(page.len());
        for (rank, address) in page {
            let course = self.stored_course(searcher, columns, address)?;
            hits.push(Hit { course, rank });
        }
        live_seats(hits.iter_mut().map(|h| &mut h.course), seats);
        Ok(hits)
    }
}

/// One course of the catalog as a listing needs it.
#[derive(Clone, Copy)]
struct Row {
    address: DocAddress,
    /// Its department as an index into [`Listing::departments`].
    packed: Packed,
}

/// The whole catalog in code order, read from the index's columns once per version of the
/// index: a listing without text walks these rows (a few MiB for 100,000 courses) instead of
/// every document's columns, and stops paying for rows once its page is full.
struct Listing {
    version: matches::Version,
    rows: Vec<Row>,
    departments: Vec<Arc<str>>,
    /// Where each course is: `GET /courses/{id}` looks here instead of searching the id's
    /// postings (which took as long as ranking a kept search).
    by_id: HashMap<i64, DocAddress>,
}

impl Listing {
    fn read(searcher: &tantivy::Searcher, open: &OpenColumns) -> Result<Listing, SearchError> {
        let mut rows = Vec::with_capacity(searcher.num_docs() as usize);
        let mut departments: Vec<Arc<str>> = Vec::new();
        let mut known: HashMap<Arc<str>, u32> = HashMap::new();
        let open = open.of(searcher).map_err(index_error)?;
        for (segment, (reader, columns)) in searcher
            .segment_readers()
            .iter()
            .zip(open.iter())
            .enumerate()
        {
            // This segment's department ordinals as indexes into `departments`.
            let mut global = Vec::new();
            for name in columns.departments.iter() {
                let next = departments.len() as u32;
                let index = *known.entry(name.clone()).or_insert_with(|| {
                    departments.push(name.clone());
                    next
                });
                global.push(index);
            }
            for doc in reader.doc_ids_alive() {
                let mut packed = columns.rows.get(doc as usize).copied().unwrap_or_default();
                packed.department = global
                    .get(packed.department as usize)
                    .copied()
                    .unwrap_or(u32::MAX);
                rows.push(Row {
                    address: DocAddress::new(segment as SegmentOrdinal, doc),
                    packed,
                });
            }
        }
        rows.sort_unstable_by_key(|r| (r.packed.order, r.packed.id));
        let by_id = rows.iter().map(|r| (r.packed.id, r.address)).collect();
        Ok(Listing {
            version: matches::Version::default(),
            rows,
            departments,
            by_id,
        })
    }
}

impl TantivyIndex {
    fn listing(
        &self,
        generation: &Generation,
        searcher: &tantivy::Searcher,
    ) -> Result<Arc<Listing>, SearchError> {
        let version = generation.version(searcher);
        let mut cached = self.listing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listing) = cached.as_ref().filter(|l| l.version == version) {
            return Ok(listing.clone());
        }
        let mut listing = Listing::read(searcher, &self.columns)?;
        listing.version = version;
        let listing = Arc::new(listing);
        *cached = Some(listing.clone());
        Ok(listing)
    }

    /// Every course, filtered, in code order (each worth one point, as with no text every
    /// course matches equally).
    fn list(
        &self,
        request: &SearchRequest,
        seats: &Arc<SeatBoard>,
    ) -> Result<SearchResults, SearchError> {
        let generation = self.live();
        let searcher = generation.reader.searcher();
        let listing = self.listing(&generation, &searcher)?;
        let filter = &request.filter;
        let wanted = filter
            .department
            .as_ref()
            .map(|name| number_of(&listing.departments, name));
        let (skip, after) = match request.window {
            Window::Skip(skip) => (skip, None),
            Window::After(cursor) => (0, cursor),
        };
        let mut sieve = Sieve::new(filter, wanted, listing.departments.len(), request.facets);
        let mut page = Vec::with_capacity(request.limit);
        let view = filter.has_seats.then(|| seats.view());
        let mut everything = false;
        for row in &listing.rows {
            if page.len() == request.limit && !request.facets && sieve.filters_nothing() {
                // Nothing filtered and nothing to count: the rest only add to the total.
                everything = true;
                break;
            }
            if !sieve.pass(&row.packed, view.as_ref()) {
                continue;
            }
            let rank = Rank {
                points: 1,
                order: row.packed.order,
                id: row.packed.id,
            };
            let in_window = match after {
                Some(cursor) => rank.is_after(&cursor),
                None => sieve.total > skip as u64,
            };
            if in_window && page.len() < request.limit {
                page.push((rank, row.address));
            }
        }
        drop(view);
        let columns = self.columns.of(&searcher).map_err(index_error)?;
        let hits = self.hits(page.into_iter(), seats, &searcher, &columns)?;
        let total = match everything {
            true => listing.rows.len() as u64,
            false => sieve.total,
        };
        let counts = sieve.counts(|index| listing.departments.get(index).cloned());
        Ok(SearchResults {
            hits,
            total,
            facets: request.facets.then(|| counts.into_facets()),
        })
    }
}

impl TantivyIndex {
    /// The course stored at `address`, read back once and then kept in its document's slot
    /// of the segment's columns: a segment never changes, and reading one back (its block of
    /// the store, then its JSON) cost more than the rest of a page of hits.
    fn stored_course(
        &self,
        searcher: &tantivy::Searcher,
        columns: &[Columns],
        address: DocAddress,
    ) -> Result<Arc<Course>, SearchError> {
        let slot = columns
            .get(address.segment_ord as usize)
            .and_then(|c| c.courses.get(address.doc_id as usize))
            .ok_or_else(|| SearchError::Index("a hit outside its segment".into()))?;
        if let Some(course) = slot.get() {
            return Ok(course.clone());
        }
        let course = Arc::new(read_course(searcher, &self.fields, address)?);
        Ok(slot.get_or_init(|| course).clone())
    }
}

fn read_course(
    searcher: &tantivy::Searcher,
    fields: &Fields,
    address: DocAddress,
) -> Result<Course, SearchError> {
    let doc: TantivyDocument = searcher.doc(address).map_err(index_error)?;
    doc.get_first(fields.doc)
        .and_then(|value| value.as_bytes())
        .and_then(|bytes| serde_json::from_slice::<StoredCourse>(bytes).ok())
        .and_then(StoredCourse::into_course)
        .ok_or_else(|| SearchError::Index("a stored course does not read back".into()))
}

fn is_generation(name: &str) -> bool {
    name.strip_prefix("gen-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn next_generation(name: &str) -> String {
    let number: u64 = name
        .strip_prefix("gen-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    format!("gen-{}", number + 1)
}

/// Points `CURRENT` at `name`: written aside, then renamed over, so it is never half written.
fn make_current(root: &Path, name: &str) -> Result<(), SearchError> {
    let aside = root.join("CURRENT.new");
    std::fs::write(&aside, name)?;
    std::fs::rename(&aside, root.join(CURRENT))?;
    Ok(())
}

#[async_trait]
impl SearchIndex for TantivyIndex {
    fn backend(&self) -> SearchBackend {
        SearchBackend::Tantivy
    }

    async fn course(
        &self,
        id: CourseId,
        seats: &Arc<SeatBoard>,
    ) -> Result<Option<Arc<Course>>, SearchError> {
        let generation = self.live();
        let searcher = generation.reader.searcher();
        let listing = self.listing(&generation, &searcher)?;
        let Some(&address) = listing.by_id.get(&id.0) else {
            return Ok(None);
        };
        let columns = self.columns.of(&searcher).map_err(index_error)?;
        let mut course = self.stored_course(&searcher, &columns, address)?;
        live_seats([&mut course], seats);
        Ok(Some(course).filter(|course| course.id == id))
    }

    async fn search(
        &self,
        request: &SearchRequest,
        seats: &Arc<SeatBoard>,
    ) -> Result<SearchResults, SearchError> {
        self.collect(request, seats)
    }

    async fn apply(&self, courses: &[Course], watermark: Watermark) -> Result<(), SearchError> {
        let generation = self.live();
        let (schema, fields, courses) = (self.schema.clone(), self.fields, courses.to_vec());
        let written = generation.clone();
        tokio::task::spawn_blocking(move || {
            written.write(&schema, &fields, &courses, Some(watermark))
        })
        .await
        .map_err(|e| SearchError::Index(e.to_string()))??;
        self.columns.retain(&generation.reader.searcher());
        Ok(())
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild + '_>, SearchError> {
        let name = next_generation(&self.live().name);
        let generation = Generation::open(&self.root.path, &name, &self.schema, true)?;
        Ok(Box::new(TantivyRebuild {
            index: self,
            generation: Arc::new(generation),
        }))
    }

    async fn status(&self) -> Result<IndexStatus, SearchError> {
        let generation = self.live();
        let searcher = generation.reader.searcher();
        let mut ids = (i64::MAX, 0i64);
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("id").map_err(index_error)?;
            for doc in segment.doc_ids_alive() {
                if let Some(id) = column.first(doc) {
                    let id = i64::try_from(id).unwrap_or(i64::MAX);
                    ids = (ids.0.min(id), ids.1.max(id));
                }
            }
        }
        Ok(IndexStatus {
            backend: SearchBackend::Tantivy,
            documents: searcher.num_docs(),
            watermark: generation.watermark(),
            ids: if ids.0 == i64::MAX { (0, 0) } else { ids },
        })
    }
}

/// A replacement generation being filled.
struct TantivyRebuild<'a> {
    index: &'a TantivyIndex,
    generation: Arc<Generation>,
}

#[async_trait]
impl Rebuild for TantivyRebuild<'_> {
    async fn add(&mut self, courses: &[Course]) -> Result<(), SearchError> {
        let generation = self.generation.clone();
        let (schema, fields, courses) = (
            self.index.schema.clone(),
            self.index.fields,
            courses.to_vec(),
        );
        tokio::task::spawn_blocking(move || generation.write(&schema, &fields, &courses, None))
            .await
            .map_err(|e| SearchError::Index(e.to_string()))?
    }

    async fn finish(self: Box<Self>, watermark: Watermark) -> Result<(), SearchError> {
        let generation = self.generation.clone();
        let (schema, fields) = (self.index.schema.clone(), self.index.fields);
        let name = generation.name.clone();
        tokio::task::spawn_blocking(move || {
            generation.write(&schema, &fields, &[], Some(watermark))?;
            generation.merge_all()
        })
        .await
        .map_err(|e| SearchError::Index(e.to_string()))??;
        make_current(&self.index.root.path, &name)?;
        let live = self.generation.reader.searcher();
        let old = std::mem::replace(
            &mut *self
                .index
                .current
                .write()
                .unwrap_or_else(|e| e.into_inner()),
            self.generation,
        );
        old.retired.store(true, Ordering::Release);
        self.index.columns.retain(&live);
        Ok(())
    }
}

/// Collects every match of a text with its points, by segment.
struct Matching<'a> {
    /// A 초성 pattern every match's title must match (the index only narrows by n-grams).
    chosung: Option<String>,
    /// The searcher's columns, by segment ordinal.
    columns: &'a [Columns],
}

/// A segment's matches.
struct SegmentMatching {
    segment: SegmentOrdinal,
    rows: Arc<[Packed]>,
    /// The pattern, the segment's titles and what each title ordinal gave.
    chosung: Option<(String, StrColumn, HashMap<u64, bool>)>,
    docs: Vec<Match>,
}

/// Ranks a text's matches into the page, the total and the facets a request asks for, in one
/// pass over them.
struct Ranked {
    filter: SearchFilter,
    after: Option<Rank>,
    keep: usize,
    facets: bool,
}

/// A department's number among `names` (a segment's ordinals, or a listing's), `None` when
/// none is called `name`.
fn number_of(names: &[Arc<str>], name: &str) -> Option<u32> {
    names
        .iter()
        .position(|d| **d == *name)
        .and_then(|n| u32::try_from(n).ok())
}

/// Best first: most points, then code order, then id.
type Key = (Reverse<u32>, u64, i64);

#[derive(Default)]
struct Counts {
    department: HashMap<Arc<str>, u64>,
    credits: [u64; 7],
    weekday: [u64; 6],
}

impl Counts {
    fn add(&mut self, other: Counts) {
        match self.department.is_empty() {
            true => self.department = other.department,
            false => {
                for (name, n) in other.department {
                    *self.department.entry(name).or_default() += n;
                }
            }
        }
        for (a, b) in self.credits.iter_mut().zip(other.credits) {
            *a += b;
        }
        for (a, b) in self.weekday.iter_mut().zip(other.weekday) {
            *a += b;
        }
    }

    fn into_facets(self) -> Facets {
        Facets::from_counts(self.department, self.credits, self.weekday)
    }
}

/// A request's filters as a ranking or a listing applies them to rows, counting the facets on
/// the way: each facet counts the rows that pass every filter but its own.
struct Sieve {
    /// The wanted department in the rows' numbering; `Some(None)` when no row can be in it.
    department: Option<Option<u32>>,
    weekday: Option<Weekday>,
    credits: Option<u8>,
    has_seats: bool,
    facets: bool,
    /// Rows that passed every filter.
    total: u64,
    /// Rows per department, in the rows' numbering.
    department_counts: Vec<u64>,
    credit_counts: [u64; 7],
    weekday_counts: [u64; 6],
}

impl Sieve {
    /// Applies `filter`, its department already looked up in the rows' numbering, to rows of
    /// `departments` departments; facets are counted only when asked for.
    fn new(
        filter: &SearchFilter,
        department: Option<Option<u32>>,
        departments: usize,
        facets: bool,
    ) -> Sieve {
        Sieve {
            department,
            weekday: filter.weekday,
            credits: filter.credits.map(|c| c.get()),
            has_seats: filter.has_seats,
            facets,
            total: 0,
            department_counts: vec![0; if facets { departments } else { 0 }],
            credit_counts: [0; 7],
            weekday_counts: [0; 6],
        }
    }

    fn filters_nothing(&self) -> bool {
        self.department.is_none()
            && self.weekday.is_none()
            && self.credits.is_none()
            && !self.has_seats
    }

    /// Whether `row` passes every filter, counting it in each facet it belongs to and, when it
    /// passes, in the total. `seats` is the board, read-locked, when free seats are wanted.
    fn pass(&mut self, row: &Packed, seats: Option<&SeatView>) -> bool {
        let department_ok = self
            .department
            .is_none_or(|wanted| wanted == Some(row.department));
        let day_ok = self
            .weekday
            .is_none_or(|day| row.days & (1 << day.index()) != 0);
        let credits_ok = self.credits.is_none_or(|c| c == row.credits);
        let seats_ok = seats.is_none_or(|view| row.has_seat(view));
        if self.facets {
            if day_ok
                && credits_ok
                && seats_ok
                && let Some(slot) = self.department_counts.get_mut(row.department as usize)
            {
                *slot += 1;
            }
            if department_ok && day_ok && seats_ok {
                self.credit_counts[usize::from(row.credits.min(6))] += 1;
            }
            if department_ok && credits_ok && seats_ok {
                for (d, slot) in self.weekday_counts.iter_mut().enumerate() {
                    if row.days & (1 << d) != 0 {
                        *slot += 1;
                    }
                }
            }
        }
        let pass = department_ok && day_ok && credits_ok && seats_ok;
        self.total += u64::from(pass);
        pass
    }

    /// The facet counts, with each department's name by its number.
    fn counts(&self, name: impl Fn(usize) -> Option<Arc<str>>) -> Counts {
        let department = self
            .department_counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(index, n)| Some((name(index)?, *n)))
            .collect();
        Counts {
            department,
            credits: self.credit_counts,
            weekday: self.weekday_counts,
        }
    }
}

#[derive(Default)]
struct Found {
    /// Best first.
    top: Vec<(Rank, DocAddress)>,
    total: u64,
    facets: Counts,
}

impl Found {
    /// Adds another segment's hits, best first, keeping the best `keep`.
    fn add(&mut self, other: Found, keep: usize) {
        match self.top.is_empty() {
            true => self.top = other.top,
            false => {
                self.top.extend(other.top);
                self.top
                    .sort_unstable_by_key(|(rank, _)| (Reverse(rank.points), rank.order, rank.id));
            }
        }
        self.top.truncate(keep);
        self.total += other.total;
        self.facets.add(other.facets);
    }
}

/// One segment's matches being ranked.
struct SegmentRanked {
    segment: SegmentOrdinal,
    after: Option<Rank>,
    keep: usize,
    sieve: Sieve,
    /// The segment's department names, by ordinal.
    departments: Arc<[Arc<str>]>,
    heap: BinaryHeap<(Key, DocId)>,
}

/// A segment's columns a ranking or a listing reads, opened once per segment: opening them
/// (finding each in the segment's column directory, reading its header) cost a twentieth of
/// every search.
#[derive(Clone)]
struct Columns {
    /// The department names by ordinal, read from the column's dictionary once (decoding one
    /// per facet count cost as much as ranking the matches).
    departments: Arc<[Arc<str>]>,
    title_key: Option<StrColumn>,
    /// What a ranking reads of every match, by document: one read instead of five column
    /// decodes (a one-syllable search matches a fifth of the catalog).
    rows: Arc<[Packed]>,
    /// Each document's course once read back, by document: at most the segment's courses.
    courses: Arc<[OnceLock<Arc<Course>>]>,
}

impl Columns {
    fn open(reader: &SegmentReader) -> tantivy::Result<Columns> {
        let fast = reader.fast_fields();
        let column = |name: &str| -> tantivy::Result<Arc<dyn ColumnValues<u64>>> {
            Ok(fast.u64(name)?.first_or_default_col(0))
        };
        let (id, order) = (column("id")?, column("order")?);
        let (credits, weekdays) = (column("credits")?, column("weekdays")?);
        let (capacity, enrolled) = (column("capacity")?, column("enrolled")?);
        let department = fast.str("department")?;
        let rows = (0..reader.max_doc())
            .map(|doc| Packed {
                order: order.get_val(doc),
                id: i64::try_from(id.get_val(doc)).unwrap_or(i64::MAX),
                department: department
                    .as_ref()
                    .and_then(|column| column.term_ords(doc).next())
                    .and_then(|ord| u32::try_from(ord).ok())
                    .unwrap_or(u32::MAX),
                credits: u8::try_from(credits.get_val(doc)).unwrap_or(0),
                days: u8::try_from(weekdays.get_val(doc)).unwrap_or(0),
                capacity: u32::try_from(capacity.get_val(doc)).unwrap_or(0),
                enrolled: u32::try_from(enrolled.get_val(doc)).unwrap_or(0),
            })
            .collect();
        let departments = match &department {
            Some(column) => (0..column.dictionary().num_terms() as u64)
                .map(|ord| {
                    let mut name = String::new();
                    column.ord_to_str(ord, &mut name).map(|_| Arc::from(name))
                })
                .collect::<std::io::Result<_>>()?,
            None => Arc::from([]),
        };
        Ok(Columns {
            departments,
            title_key: fast.str("title_key")?,
            rows,
            courses: (0..reader.max_doc()).map(|_| OnceLock::new()).collect(),
        })
    }
}

/// The most segments whose columns are kept open: a merged index has one, a live one a few
/// (more while writes come faster than merges). Those of segments merged away are let go after
/// each write, so this bound only matters for searches still holding an older searcher.
const OPEN_SEGMENTS: NonZeroUsize = NonZeroUsize::new(64).unwrap();

/// Columns kept open by segment.
struct OpenColumns(Mutex<LruCache<SegmentId, Columns>>);

impl OpenColumns {
    fn new() -> OpenColumns {
        OpenColumns(Mutex::new(LruCache::new(OPEN_SEGMENTS)))
    }

    /// The columns of each of `searcher`'s segments, by segment ordinal: opened the first time
    /// (outside the lock), then kept.
    fn of(&self, searcher: &tantivy::Searcher) -> tantivy::Result<Vec<Columns>> {
        let readers = searcher.segment_readers();
        let mut open: Vec<Option<Columns>> = {
            let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
            readers
                .iter()
                .map(|reader| kept.get(&reader.segment_id()).cloned())
                .collect()
        };
        if open.iter().all(Option::is_some) {
            return Ok(open.into_iter().flatten().collect());
        }
        for (slot, reader) in open.iter_mut().zip(readers) {
            if slot.is_none() {
                let columns = Columns::open(reader)?;
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .put(reader.segment_id(), columns.clone());
                *slot = Some(columns);
            }
        }
        Ok(open.into_iter().flatten().collect())
    }

    /// Lets go of the columns (and the courses read back) of segments `searcher` no longer
    /// has. A search still holding an older searcher opens them again if it needs them.
    fn retain(&self, searcher: &tantivy::Searcher) {
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<SegmentId> = kept
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !live.contains(id))
            .collect();
        for id in gone {
            kept.pop(&id);
        }
    }
}

impl Collector for Matching<'_> {
    type Fruit = Matches;
    type Child = SegmentMatching;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        _: &SegmentReader,
    ) -> tantivy::Result<SegmentMatching> {
        let columns = self
            .columns
            .get(segment as usize)
            .ok_or_else(|| TantivyError::InternalError("a segment without columns".into()))?;
        let chosung = match (&self.chosung, &columns.title_key) {
            (Some(pattern), Some(titles)) => {
                Some((pattern.clone(), titles.clone(), HashMap::new()))
            }
            _ => None,
        };
        Ok(SegmentMatching {
            segment,
            rows: columns.rows.clone(),
            chosung,
            docs: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<(SegmentOrdinal, Vec<Match>)>) -> tantivy::Result<Matches> {
        let count = fruits
            .iter()
            .map(|(s, _)| *s as usize + 1)
            .max()
            .unwrap_or(0);
        let mut segments = vec![Vec::new(); count];
        for (segment, docs) in fruits {
            if let Some(slot) = segments.get_mut(segment as usize) {
                *slot = docs;
            }
        }
        Ok(Matches {
            segments,
            ..Matches::default()
        })
    }
}

impl SegmentMatching {
    fn title_matches(&mut self, doc: DocId) -> bool {
        let Some((pattern, titles, seen)) = &mut self.chosung else {
            return true;
        };
        let Some(ord) = titles.term_ords(doc).next() else {
            return false;
        };
        *seen.entry(ord).or_insert_with(|| {
            let mut title = String::new();
            titles.ord_to_str(ord, &mut title).unwrap_or(false)
                && text::matches_chosung(&title, pattern)
        })
    }
}

impl SegmentCollector for SegmentMatching {
    type Fruit = (SegmentOrdinal, Vec<Match>);

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.title_matches(doc) {
            self.docs.push(Match {
                doc,
                // Whole numbers, added up from constant scores.
                points: score.round().max(0.0) as u32,
                row: self.rows.get(doc as usize).copied().unwrap_or_default(),
            });
        }
    }

    fn harvest(self) -> Self::Fruit {
        (self.segment, self.docs)
    }
}

impl Ranked {
    /// Ranks a text's matches, segment by segment.
    fn scan(
        &self,
        matches: &Matches,
        seats: &SeatBoard,
        columns: &[Columns],
    ) -> Result<Found, SearchError> {
        let mut found = Found::default();
        for (segment, docs) in matches.segments.iter().enumerate() {
            let Some(open) = columns.get(segment) else {
                continue;
            };
            let mut ranking = self.segment(segment as SegmentOrdinal, open);
            match self.filter.has_seats {
                // The counter read for all of the segment's matches under one lock.
                true => {
                    let view = seats.view();
                    for found in docs {
                        ranking.consider(found, Some(&view));
                    }
                }
                false => {
                    for found in docs {
                        ranking.consider(found, None);
                    }
                }
            }
            found.add(ranking.found(), self.keep);
        }
        Ok(found)
    }

    /// Ranks the matches of one segment.
    fn segment(&self, segment: SegmentOrdinal, columns: &Columns) -> SegmentRanked {
        let departments = columns.departments.clone();
        let wanted = self
            .filter
            .department
            .as_ref()
            .map(|name| number_of(&departments, name));
        SegmentRanked {
            segment,
            after: self.after,
            keep: self.keep,
            sieve: Sieve::new(&self.filter, wanted, departments.len(), self.facets),
            departments,
            heap: BinaryHeap::new(),
        }
    }
}

impl SegmentRanked {
    /// Counts a match and keeps it if it may make the page; `seats` is the board, read-locked,
    /// when the request wants courses with free seats.
    fn consider(&mut self, found: &Match, seats: Option<&SeatView>) {
        let Match { doc, points, row } = *found;
        if !self.sieve.pass(&row, seats) {
            return;
        }
        // Fewer points than the worst kept hit: it cannot make the page.
        if self.heap.len() == self.keep
            && self
                .heap
                .peek()
                .is_some_and(|((Reverse(worst), _, _), _)| points < *worst)
        {
            return;
        }
        let rank = Rank {
            points,
            order: row.order,
            id: row.id,
        };
        if self.after.is_some_and(|cursor| !rank.is_after(&cursor)) {
            return;
        }
        let key = (Reverse(rank.points), rank.order, rank.id);
        if self.heap.len() < self.keep {
            self.heap.push((key, doc));
        } else if self.heap.peek().is_some_and(|(worst, _)| key < *worst) {
            self.heap.pop();
            self.heap.push((key, doc));
        }
    }

    fn found(self) -> Found {
        let facets = self.sieve.counts(|ord| self.departments.get(ord).cloned());
        // Ascending keys: best first.
        let top = self
            .heap
            .into_sorted_vec()
            .into_iter()
            .map(|((Reverse(points), order, id), doc)| {
                (
                    Rank { points, order, id },
                    DocAddress::new(self.segment, doc),
                )
            })
            .collect();
        Found {
            top,
            total: self.sieve.total,
            facets,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use super::*;
    use crate::domain::CourseSpec;
    use crate::search::contract::{Harness, contract_tests, course};

    /// A temporary index, filled as the sync would fill it.
    #[derive(Default)]
    struct Tantivy {
        index: Mutex<Option<Arc<TantivyIndex>>>,
        ids: AtomicI64,
    }

    impl Tantivy {
        fn stored(&self, specs: &[CourseSpec]) -> Vec<Course> {
            specs
                .iter()
                .map(|spec| Course {
                    id: CourseId(self.ids.fetch_add(1, Ordering::Relaxed) + 1),
                    spec: spec.clone(),
                    enrolled: 0,
                })
                .collect()
        }
    }

    #[async_trait]
    impl Harness for Tantivy {
        async fn index(&self, specs: &[CourseSpec]) -> (Arc<dyn SearchIndex>, Vec<Course>) {
            let index = Arc::new(TantivyIndex::open(&IndexLocation::Temporary).unwrap());
            let courses = self.stored(specs);
            index.apply(&courses, Watermark::default()).await.unwrap();
            *self.index.lock().unwrap() = Some(index.clone());
            (index, courses)
        }

        async fn change(&self, courses: &[Course], new: &[CourseSpec]) -> Vec<Course> {
            let index = self.index.lock().unwrap().clone().expect("an index");
            let mut all = courses.to_vec();
            all.extend(self.stored(new));
            index.apply(&all, Watermark::default()).await.unwrap();
            all
        }

        async fn fill(&self, course: &Course, seats: &SeatBoard) {
            seats.record(&[(course.id, course.spec.capacity)]);
        }
    }

    contract_tests!(tantivy, async { Tantivy::default() });

    fn request(q: &str) -> SearchRequest {
        SearchRequest::first_page(q, 10)
    }

    #[tokio::test]
    async fn a_course_read_back_is_read_again_once_it_is_rewritten() {
        let index = TantivyIndex::open(&IndexLocation::Temporary).unwrap();
        let seats = Arc::new(SeatBoard::default());
        let first = course(1, "CSE1001-01", "자료구조", "김철수");
        index
            .apply(std::slice::from_ref(&first), Watermark::default())
            .await
            .unwrap();
        let title = |found: SearchResults| found.hits[0].course.spec.title.clone();
        assert_eq!(
            title(index.search(&request(""), &seats).await.unwrap()),
            "자료구조"
        );
        // Rewritten into a new segment, where it is again the first document.
        let mut edited = first;
        edited.spec.title = "고급 자료구조".into();
        index.apply(&[edited], Watermark::default()).await.unwrap();
        let listed = index.search(&request(""), &seats).await.unwrap();
        assert_eq!(
            (listed.total, title(listed)),
            (1, "고급 자료구조".to_owned())
        );
    }

    #[tokio::test]
    async fn a_search_without_filters_gets_what_a_full_ranking_gives_at_every_window() {
        // 150 matches of 자료구조 (more than the kept best 101), worth three different points,
        // in two segments; all in one department, so filtering by it changes nothing but forces
        // the full ranking.
        let index = TantivyIndex::open(&IndexLocation::Temporary).unwrap();
        let seats = Arc::new(SeatBoard::default());
        let titles = ["자료구조", "자료구조론", "고급 자료구조"];
        let courses: Vec<Course> = (1..=150)
            .map(|n| {
                let code = format!("CSE{}-01", 3000 - n);
                course(n, &code, titles[n as usize % 3], "김철수")
            })
            .collect();
        index
            .apply(&courses[..70], Watermark::default())
            .await
            .unwrap();
        index
            .apply(&courses[70..], Watermark::default())
            .await
            .unwrap();
        // A full course: seats are laid over the kept page too.
        seats.record(&[(CourseId(150), 10)]);
        let summary = |found: &SearchResults| {
            let hits: Vec<(i64, Rank, u32)> = found
                .hits
                .iter()
                .map(|h| (h.course.id.0, h.rank, h.course.seats_left()))
                .collect();
            (hits, found.total, found.facets.clone())
        };
        let ask = |window: Window, limit: usize, department: Option<&str>| {
            let mut request = SearchRequest::first_page("자료구조", limit);
            request.window = window;
            request.filter.department = department.map(str::to_owned);
            let index = &index;
            let seats = &seats;
            async move { index.search(&request, seats).await.unwrap() }
        };
        let all = ask(Window::After(None), 150, None).await;
        assert_eq!(all.total, 150);
        let cursors = [
            None,
            Some(0),
            Some(50),
            Some(79),
            Some(80),
            Some(99),
            Some(140),
        ];
        for limit in [1, 21, 101] {
            for at in cursors {
                let window = Window::After(at.map(|i| all.hits[i].rank));
                let kept = ask(window, limit, None).await;
                let ranked = ask(window, limit, Some("컴퓨터공학과")).await;
                assert_eq!(summary(&kept), summary(&ranked), "after {at:?}, {limit}");
            }
            for skip in [0, 20, 80, 100, 149, 200] {
                let kept = ask(Window::Skip(skip), limit, None).await;
                let ranked = ask(Window::Skip(skip), limit, Some("컴퓨터공학과")).await;
                assert_eq!(summary(&kept), summary(&ranked), "skip {skip}, {limit}");
            }
        }
        let first = ask(Window::After(None), 21, None).await;
        let top = &first.hits[0].course;
        assert_eq!((top.id.0, top.seats_left()), (150, 0));
    }

    #[tokio::test]
    async fn the_courses_read_back_of_segments_no_longer_searched_are_let_go() {
        let index = TantivyIndex::open(&IndexLocation::Temporary).unwrap();
        let seats = Arc::new(SeatBoard::default());
        let open = || -> Vec<SegmentId> {
            let kept = index.columns.0.lock().unwrap();
            let mut ids: Vec<SegmentId> = kept.iter().map(|(id, _)| *id).collect();
            ids.sort();
            ids
        };
        let live = || -> Vec<SegmentId> {
            let mut ids: Vec<SegmentId> = index
                .live()
                .reader
                .searcher()
                .segment_readers()
                .iter()
                .map(SegmentReader::segment_id)
                .collect();
            ids.sort();
            ids
        };
        for round in 0..3 {
            let mut rebuild = index.rebuild().await.unwrap();
            let courses: Vec<Course> = (1..=20)
                .map(|n| course(n, &format!("CSE{}-01", 1000 + n), "자료구조", "김철수"))
                .collect();
            rebuild.add(&courses).await.unwrap();
            rebuild.finish(Watermark::default()).await.unwrap();
            // A search reads courses back into the new segment's columns.
            let found = index.search(&request("자료구조"), &seats).await.unwrap();
            assert_eq!(found.total, 20, "round {round}");
            assert_eq!(
                open(),
                live(),
                "round {round}: only the live segments are open"
            );
            // A write adds a segment; the columns of those still searched stay open.
            let mut edited = courses[0].clone();
            edited.spec.title = format!("고급 자료구조 {round}");
            index.apply(&[edited], Watermark::default()).await.unwrap();
            index.search(&request("자료구조"), &seats).await.unwrap();
            assert_eq!(open(), live(), "round {round}: after a write");
            // Every course written again: the segments holding only their old versions go.
            let before = live();
            index.apply(&courses, Watermark::default()).await.unwrap();
            assert!(
                live().iter().all(|id| !before.contains(id)),
                "round {round}"
            );
            assert!(open().is_empty(), "round {round}: nothing searched since");
            index.search(&request("자료구조"), &seats).await.unwrap();
            assert_eq!(
                open(),
                live(),
                "round {round}: after rewriting every course"
            );
        }
    }

    #[test]
    fn a_bulk_fill_ends_as_one_segment_with_its_watermark() {
        let index = TantivyIndex::open(&IndexLocation::Temporary).unwrap();
        let generation = Generation::open(&index.root.path, "gen-9", &index.schema, true).unwrap();
        let settled = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        for batch in 0..3 {
            let courses: Vec<Course> = (0..10)
                .map(|n| {
                    let id = batch * 10 + n + 1;
                    course(id, &format!("CSE{}-01", 1000 + id), "자료구조", "김철수")
                })
                .collect();
            let watermark = Watermark {
                settled: Some(settled),
            };
            generation
                .write(&index.schema, &index.fields, &courses, Some(watermark))
                .unwrap();
        }
        let segments = |g: &Generation| g.reader.searcher().segment_readers().len();
        assert_eq!(segments(&generation), 3, "a segment per commit");
        generation.merge_all().unwrap();
        assert_eq!(segments(&generation), 1);
        assert_eq!(generation.reader.searcher().num_docs(), 30);
        assert_eq!(generation.watermark().settled, Some(settled));
    }

    #[tokio::test]
    async fn a_listing_after_a_rebuild_is_the_new_catalog() {
        // Each generation's reader numbers its versions from zero: a listing kept from the
        // old generation must not be taken for the new one's when the numbers meet, as they do
        // when one rebuild follows another with no write between.
        let index = TantivyIndex::open(&IndexLocation::Temporary).unwrap();
        let seats = Arc::new(SeatBoard::default());
        let old: Vec<Course> = (1..=30)
            .map(|n| course(n, &format!("CSE{}-01", 1000 + n), "자료구조", "김철수"))
            .collect();
        index
            .apply(
                &[course(100, "ECO1001-01", "경제학원론", "박민수")],
                Watermark::default(),
            )
            .await
            .unwrap();
        for (round, writes) in [1, 0, 2, 0].into_iter().enumerate() {
            for _ in 0..writes {
                index.apply(&old, Watermark::default()).await.unwrap();
                let listed = index.search(&request(""), &seats).await.unwrap();
                assert!(listed.total > 30, "the old catalog and the last rebuild's");
            }
            let mut rebuild = index.rebuild().await.unwrap();
            // Each rebuild a catalog of another size, so a stale listing shows.
            let new: Vec<Course> = (0..=round as i64)
                .map(|n| {
                    course(
                        200 + n,
                        &format!("ECO{}-01", 1001 + n),
                        "경제학원론",
                        "박민수",
                    )
                })
                .collect();
            rebuild.add(&new).await.unwrap();
            rebuild.finish(Watermark::default()).await.unwrap();
            let found = index.search(&request(""), &seats).await.unwrap();
            let ids: Vec<i64> = found.hits.iter().map(|h| h.course.id.0).collect();
            let wanted: Vec<i64> = new.iter().map(|c| c.id.0).collect();
            assert_eq!(
                (found.total as usize, ids),
                (new.len(), wanted),
                "round {round}"
            );
        }
    }

    #[tokio::test]
    async fn kept_matches_answer_any_filter_with_live_seats_and_go_when_the_index_changes() {
        let index = TantivyIndex::open(&IndexLocation::Temporary).unwrap();
        let seats = Arc::new(SeatBoard::default());
        let first = course(1, "CSE2010-01", "자료구조", "김철수");
        let mut other = course(3, "ECO2010-01", "자료구조", "이영희");
        other.spec.department = "경제학과".into();
        index
            .apply(&[first.clone(), other.clone()], Watermark::default())
            .await
            .unwrap();
        let ids = |found: &SearchResults| -> Vec<i64> {
            found.hits.iter().map(|h| h.course.id.0).collect()
        };
        let reused = || index.matches.reuse().reused;
        assert_eq!(
            ids(&index.search(&request("자료구조"), &seats).await.unwrap()),
            [1, 3]
        );
        assert_eq!(reused(), 0);
        // The same text again is ranked from the kept matches, with the seats the counter has
        // now.
        seats.record(&[(first.id, first.spec.capacity)]);
        let again = index.search(&request("자료구조"), &seats).await.unwrap();
        assert_eq!(reused(), 1, "the second search reused the first's matches");
        assert_eq!(again.hits[0].course.seats_left(), 0);
        // So is the same text with filters of its own: free seats by the counter as it is now,
        // a department, a cursor.
        let mut free = request("자료구조");
        free.filter.has_seats = true;
        let found = index.search(&free, &seats).await.unwrap();
        assert_eq!((found.total, ids(&found)), (1, vec![3]));
        let facets = found.facets.unwrap();
        assert_eq!(facets.department, [("경제학과".into(), 1)]);
        seats.record(&[(first.id, 0)]);
        assert_eq!(index.search(&free, &seats).await.unwrap().total, 2);
        let mut economics = request("자료구조");
        economics.filter.department = Some("경제학과".into());
        assert_eq!(ids(&index.search(&economics, &seats).await.unwrap()), [3]);
        let mut next = request("자료구조");
        next.window = Window::After(Some(again.hits[0].rank));
        assert_eq!(ids(&index.search(&next, &seats).await.unwrap()), [3]);
        assert_eq!(reused(), 5);
        // A course written since is found at once: the kept matches were of the old version.
        let second = course(2, "CSE2011-01", "자료구조", "박민수");
        index
            .apply(std::slice::from_ref(&second), Watermark::default())
            .await
            .unwrap();
        let changed = index.search(&request("자료구조"), &seats).await.unwrap();
        assert_eq!((changed.total, ids(&changed)), (3, vec![1, 2, 3]));
        assert_eq!(reused(), 5);
    }

    #[tokio::test]
    async fn what_is_written_is_found_and_survives_a_reopen() {
        let dir =
            std::env::temp_dir().join(format!("classmate-tantivy-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let location = IndexLocation::Dir(dir.clone());
        let seats = Arc::new(SeatBoard::default());
        {
            let index = TantivyIndex::open(&location).unwrap();
            let settled = OffsetDateTime::now_utc();
            index
                .apply(
                    &[
                        course(1, "CSE2010-01", "자료구조", "김철수"),
                        course(2, "CSE3010-01", "운영체제", "이영희"),
                    ],
                    Watermark {
                        settled: Some(settled),
                    },
                )
                .await
                .unwrap();
            let found = index.search(&request(""), &seats).await.unwrap();
            assert_eq!(found.total, 2);
            let found = index.search(&request("구조"), &seats).await.unwrap();
            let ids: Vec<i64> = found.hits.iter().map(|h| h.course.id.0).collect();
            assert_eq!(ids, [1]);
        }
        let index = TantivyIndex::open(&location).unwrap();
        let status = index.status().await.unwrap();
        assert_eq!((status.documents, status.ids), (2, (1, 2)));
        assert!(status.watermark.settled.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
