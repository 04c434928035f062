//! The audit of a run: the database's guarantees ([`Audit::audit`]) and the queue's — every
//! ticket decided, and no course flagged sold out while it has a free seat (which would turn
//! students away unfairly at admission).

use crate::queue::{Queue, QueueError};
use crate::store::{Audit, AuditScope, Finding, Store, StoreError};

/// Why the audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Every finding of the database and the queue; empty when the run kept every guarantee. Run
/// it once the queue has drained.
pub async fn audit<S: Store + Audit + ?Sized>(
    store: &S,
    queue: &dyn Queue,
    scope: AuditScope,
) -> Result<Vec<Finding>, AuditError> {
    let mut findings = store.audit(scope).await?;
    let status = queue.status().await?;
    if status.depth > 0 {
        findings.push(Finding {
            check: "ticket_not_terminal",
            count: i64::try_from(status.depth).unwrap_or(i64::MAX),
            examples: vec![format!(
                "{} tickets after seq {} still waiting",
                status.depth, status.serving_seq
            )],
        });
    }
    let full = store.full_courses().await?;
    let wrongly_flagged: Vec<String> = queue
        .sold_out()
        .await?
        .into_iter()
        .filter(|id| full.binary_search(id).is_err())
        .map(|id| id.to_string())
        .collect();
    if !wrongly_flagged.is_empty() {
        findings.push(Finding {
            check: "sold_out_flag_on_course_with_seats",
            count: wrongly_flagged.len() as i64,
            examples: wrongly_flagged.into_iter().take(10).collect(),
        });
    }
    Ok(findings)
}
