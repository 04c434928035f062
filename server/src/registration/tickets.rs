//! Enrolling through the queue, afterwards: what became of a ticket, and leaving the queue.

use std::collections::BTreeMap;

use super::{Registration, RegistrationError};
use crate::domain::{StudentId, Ticket, TicketId, TicketState};
use crate::queue::{Leave, QueueError};

/// What a ticket lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Ticket),
    /// A ticket of an earlier generation that the database never decided and the queue no
    /// longer holds: its owner and course went with the lost state, so anyone asking is told
    /// only that it was lost (which says nothing about anyone).
    Lost(TicketId),
    NotFound,
}

impl Registration {
    /// What became of ticket `id` of `student`: the queue's view while it is live, the
    /// database's once decided, and `lost` for a ticket of an earlier generation that was never
    /// decided.
    pub async fn ticket(
        &self,
        student: StudentId,
        id: TicketId,
    ) -> Result<Lookup, RegistrationError> {
        let current_generation = self.queue.generation().await?;
        let older = current_generation.is_some_and(|current| id.generation < current);
        let found = self.owned_ticket(older, student, id).await?;
        Ok(match found {
            Some(ticket) => Lookup::Found(ticket),
            // While the queue is being rebuilt, a ticket it does not hold may be a lost one.
            None if current_generation.is_none() => return Err(QueueError::Recovering.into()),
            None if older && self.store.decided_ticket(id).await?.is_none() => Lookup::Lost(id),
            None => Lookup::NotFound,
        })
    }

    async fn owned_ticket(
        &self,
        older: bool,
        student: StudentId,
        id: TicketId,
    ) -> Result<Option<Ticket>, RegistrationError> {
        let live = self
            .queue
            .ticket(id)
            .await?
            .filter(|t| t.student_id == student);
        // The queue answers for its own generation; the database is read only for tickets the
        // queue no longer holds or has lost, so polling a waiting ticket costs no database read.
        if let Some(ticket) = &live
            && (!older || ticket.state.is_terminal())
            && ticket.state != TicketState::Lost
        {
            return Ok(live);
        }
        if let Some(decided) = self
            .store
            .decided_ticket(id)
            .await?
            .filter(|t| t.student_id == student)
        {
            return Ok(Some(decided));
        }
        Ok(live.map(|mut ticket| {
            if older {
                ticket.state = TicketState::Lost;
            }
            ticket
        }))
    }

    /// The student's newest `limit` tickets, in arrival order: live ones from the queue,
    /// decided ones from the database. Each side reads at most `limit`, whatever the student's
    /// history.
    pub async fn tickets(
        &self,
        student: StudentId,
        limit: usize,
    ) -> Result<Vec<Ticket>, RegistrationError> {
        let current_generation = self.queue.generation().await?;
        let mut all: BTreeMap<TicketId, Ticket> = self
            .queue
            .tickets_of(student, limit)
            .await?
            .into_iter()
            .map(|mut t| {
                if !t.state.is_terminal() && current_generation.is_some_and(|g| t.id.generation < g)
                {
                    t.state = TicketState::Lost;
                }
                (t.id, t)
            })
            .collect();
        for decided in self.store.decided_tickets_of(student, limit).await? {
            all.insert(decided.id, decided);
        }
        let skip = all.len().saturating_sub(limit);
        Ok(all.into_values().skip(skip).collect())
    }

    /// Takes the student's ticket out of the queue, unless the drain is already deciding it.
    pub async fn leave(
        &self,
        student: StudentId,
        id: TicketId,
        now_ms: i64,
    ) -> Result<Leave, RegistrationError> {
        Ok(self.queue.leave(student, id, now_ms).await?)
    }
}
