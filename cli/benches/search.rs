//! The tantivy index on the 100,000-course catalog `classmate seed` makes: each query of the
//! relevance table, one at a time, on one thread. Criterion times every query; the summary at
//! the end gives each query's p50 and p99 over 2,000 runs, against the 2 ms goal.
//!
//! `cargo bench -p classmate --bench search`

use std::sync::Arc;
use std::time::{Duration, Instant};

use classmate::seed::generate::catalog;
use classmate_server::domain::{Course, CourseId};
use classmate_server::search::relevance::CASES;
use classmate_server::search::tantivy_index::TantivyIndex;
use classmate_server::search::{
    IndexLocation, SearchFilter, SearchIndex, SearchRequest, SearchText, Watermark, Window,
};
use classmate_server::store::SeatBoard;
use criterion::Criterion;

/// The catalog's size and seed, as `classmate seed --courses 100000` makes it.
const COURSES: usize = 100_000;
const SEED: u64 = 2026;

/// Runs per query for the percentiles.
const RUNS: usize = 2_000;

/// The goal for p99, per query.
const GOAL: Duration = Duration::from_millis(2);

fn request(q: &str) -> SearchRequest {
    SearchRequest {
        text: SearchText::parse(q).expect("a valid query"),
        filter: SearchFilter::default(),
        window: Window::After(None),
        limit: 21,
        facets: true,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let built = Instant::now();
    let courses: Vec<Course> = catalog(COURSES, SEED)
        .courses
        .into_iter()
        .enumerate()
        .map(|(n, spec)| Course {
            id: CourseId(n as i64 + 1),
            spec,
            enrolled: 0,
        })
        .collect();
    // Every run ranks afresh: the figures are of the search, not of kept matches.
    let index = TantivyIndex::open(&IndexLocation::Temporary)
        .expect("an index")
        .keeping(0);
    runtime
        .block_on(async {
            let mut rebuild = index.rebuild().await?;
            for chunk in courses.chunks(10_000) {
                rebuild.add(chunk).await?;
            }
            rebuild.finish(Watermark::default()).await
        })
        .expect("the catalog indexed");
    println!(
        "indexed {COURSES} courses in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let seats = Arc::new(SeatBoard::default());
    let search = |q: &str| {
        runtime
            .block_on(index.search(&request(q), &seats))
            .expect("a search")
    };

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("search");
    group.measurement_time(Duration::from_millis(300));
    group.warm_up_time(Duration::from_millis(100));
    for &(q, _, _) in CASES {
        group.bench_function(q, |b| b.iter(|| search(q)));
    }
    group.finish();

    println!(
        "\n{:<28} {:>8} {:>10} {:>10}",
        "query", "hits", "p50 ms", "p99 ms"
    );
    let mut worst = Duration::ZERO;
    for &(q, _, _) in CASES {
        let hits = search(q).total;
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                search(q);
                started.elapsed()
            })
            .collect();
        times.sort_unstable();
        let (p50, p99) = (times[RUNS / 2], times[RUNS * 99 / 100]);
        worst = worst.max(p99);
        println!(
            "{q:<28} {hits:>8} {:>10.3} {:>10.3}",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    println!(
        "\nworst p99 {:.3} ms; goal {:.0} ms: {}",
        worst.as_secs_f64() * 1e3,
        GOAL.as_secs_f64() * 1e3,
        if worst <= GOAL { "met" } else { "MISSED" }
    );
    criterion.final_summary();
}
