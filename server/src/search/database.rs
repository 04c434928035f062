//! Search answered by the database itself: `LIKE '%…%'` over `pg_trgm` trigram indexes on
//! PostgreSQL (plain `LIKE` on SQLite). What a team without a search engine would use, and the
//! baseline the figures compare against. It follows the catalog by being it: nothing to sync.
//! What it cannot do: 초성, typos, words across scripts (C프로그래밍 is one word to it).

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    Facets, Hit, IndexStatus, Rank, Rebuild, SearchBackend, SearchError, SearchFilter, SearchIndex,
    SearchRequest, SearchResults, Watermark, Window, code_of_order, code_order, slots,
};
use crate::domain::{Course, CourseId, Weekday};
use crate::store::{CatalogCursor, CatalogQuery, SeatBoard, Store, StoreError};

/// The catalog searched in SQL.
pub struct DatabaseSearch {
    store: Arc<dyn Store>,
}

impl DatabaseSearch {
    /// Searches `store`, after making its trigram indexes where the database has them.
    pub async fn new(store: Arc<dyn Store>) -> Result<DatabaseSearch, SearchError> {
        store.prepare_catalog_search().await.map_err(store_error)?;
        Ok(DatabaseSearch { store })
    }
}

/// A database that cannot answer in time (a pool exhausted, a connection lost) is a retryable
/// 503, as for every other request; anything else is the index failing.
fn store_error(error: StoreError) -> SearchError {
    let why = crate::telemetry::error_chain(&error);
    match error {
        StoreError::Unavailable(_) => SearchError::Unavailable(why),
        _ => SearchError::Index(why),
    }
}

fn catalog_query(request: &SearchRequest) -> Option<CatalogQuery> {
    let SearchFilter {
        department,
        weekday,
        credits,
        has_seats,
    } = &request.filter;
    let mut query = CatalogQuery {
        department: department.clone(),
        weekday: weekday.map(Weekday::index),
        credits: credits.map(|c| c.get()),
        has_seats: *has_seats,
        limit: u32::try_from(request.limit).unwrap_or(u32::MAX),
        facets: request.facets,
        ..CatalogQuery::default()
    };
    match request.window {
        Window::Skip(skip) => query.skip = u32::try_from(skip).unwrap_or(u32::MAX),
        Window::After(Some(rank)) => {
            let (subject, section) = code_of_order(rank.order)?;
            query.after = Some(CatalogCursor {
                points: i64::from(rank.points),
                subject,
                section,
                id: rank.id,
            });
        }
        Window::After(None) => {}
    }
    if let Some(text) = &request.text {
        // 초성 is beyond `LIKE`, and a text of symbols matches nothing.
        if text.chosung.is_some() || text.is_void() {
            return None;
        }
        query.words = text.words.clone();
        query.compact = Some(text.compact.clone());
        query.code = text.code.clone();
    }
    Some(query)
}

#[async_trait]
impl SearchIndex for DatabaseSearch {
    fn backend(&self) -> SearchBackend {
        SearchBackend::Database
    }

    async fn course(
        &self,
        id: CourseId,
        _seats: &Arc<SeatBoard>,
    ) -> Result<Option<Arc<Course>>, SearchError> {
        let course = self.store.course(id).await.map_err(store_error)?;
        Ok(course.map(Arc::new))
    }

    async fn search(
        &self,
        request: &SearchRequest,
        _seats: &Arc<SeatBoard>,
    ) -> Result<SearchResults, SearchError> {
        let Some(query) = catalog_query(request) else {
            return Ok(SearchResults {
                facets: request.facets.then(Facets::default),
                ..SearchResults::default()
            });
        };
        let found = self
            .store
            .search_catalog(&query)
            .await
            .map_err(store_error)?;
        let hits = found
            .hits
            .into_iter()
            .map(|(course, points)| Hit {
                rank: Rank {
                    points,
                    order: code_order(&course),
                    id: course.id.0,
                },
                course: Arc::new(course),
            })
            .collect();
        let facets = request.facets.then(|| {
            let credits = slots(found.credits.into_iter().map(|(c, n)| (u64::from(c), n)));
            Facets::from_counts(found.departments, credits, found.weekdays)
        });
        Ok(SearchResults {
            hits,
            total: found.total,
            facets,
        })
    }

    async fn apply(&self, _courses: &[Course], _watermark: Watermark) -> Result<(), SearchError> {
        Ok(())
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild + '_>, SearchError> {
        Ok(Box::new(NothingToRebuild))
    }

    async fn status(&self) -> Result<IndexStatus, SearchError> {
        let (documents, min, max) = self
            .store
            .catalog_fingerprint()
            .await
            .map_err(store_error)?;
        Ok(IndexStatus {
            backend: SearchBackend::Database,
            documents,
            watermark: Watermark {
                settled: Some(OffsetDateTime::now_utc()),
            },
            ids: (min, max),
        })
    }
}

/// The database is its own index.
struct NothingToRebuild;

#[async_trait]
impl Rebuild for NothingToRebuild {
    async fn add(&mut self, _courses: &[Course]) -> Result<(), SearchError> {
        Ok(())
    }

    async fn finish(self: Box<Self>, _watermark: Watermark) -> Result<(), SearchError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use classmate_testkit::Schema;

    use super::*;
    use crate::domain::{CourseSpec, NewStudent, Password, StudentNumber, Year};
    use crate::search::contract::{Harness, contract_tests};
    use crate::store::{PgStore, SqliteStore};

    /// A database holding the catalog, searched in SQL. Keeps what it must for the database
    /// to last as long as the test.
    struct Sql {
        store: Arc<dyn Store>,
        _keep: Mutex<Vec<Box<dyn std::any::Any + Send>>>,
    }

    impl Sql {
        async fn postgres() -> Sql {
            let schema = Schema::new("search").await;
            let store = PgStore::connect_with(schema.options(), 4).await.unwrap();
            Sql {
                store: Arc::new(store),
                _keep: Mutex::new(vec![Box::new(schema)]),
            }
        }

        async fn sqlite() -> Sql {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("search.db").display());
            let store = SqliteStore::connect(&url, 4).await.unwrap();
            Sql {
                store: Arc::new(store),
                _keep: Mutex::new(vec![Box::new(dir)]),
            }
        }
    }

    #[async_trait]
    impl Harness for Sql {
        fn full_text(&self) -> bool {
            false
        }

        async fn index(&self, specs: &[CourseSpec]) -> (Arc<dyn SearchIndex>, Vec<Course>) {
            let mut courses = Vec::new();
            for spec in specs {
                courses.push(self.store.insert_course(spec).await.unwrap());
            }
            let index = DatabaseSearch::new(self.store.clone()).await.unwrap();
            (Arc::new(index), courses)
        }

        async fn change(&self, courses: &[Course], new: &[CourseSpec]) -> Vec<Course> {
            let mut all = Vec::new();
            for course in courses {
                all.push(
                    self.store
                        .update_course(course.id, &course.spec)
                        .await
                        .unwrap(),
                );
            }
            for spec in new {
                all.push(self.store.insert_course(spec).await.unwrap());
            }
            all
        }

        async fn fill(&self, course: &Course, _seats: &SeatBoard) {
            let new = NewStudent {
                number: StudentNumber::parse("2026000001").unwrap(),
                name: "학생".into(),
                department: "컴퓨터공학과".into(),
                year: Year::new(2).unwrap(),
                password: Password::parse("비밀번호는 길게 12345".into()).unwrap(),
            };
            let student = self.store.insert_student(&new, "not a hash").await.unwrap();
            let mut tx = self.store.begin_student(student.id).await.unwrap().unwrap();
            for _ in 0..course.spec.capacity {
                assert!(tx.take_seat(course.id).await.unwrap());
            }
            tx.commit().await.unwrap();
        }
    }

    #[test]
    fn a_database_out_of_connections_is_unavailable_not_an_index_failure() {
        let error = store_error(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        assert!(matches!(error, SearchError::Unavailable(_)), "{error:?}");
        let response =
            axum::response::IntoResponse::into_response(crate::http::error::AppError::from(error));
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        let error = store_error(StoreError::Corrupt("x".into()));
        assert!(matches!(error, SearchError::Index(_)));
    }

    contract_tests!(postgres, Sql::postgres());
    contract_tests!(sqlite, Sql::sqlite());
}
