//! The IMAP session's end of the account-event broadcast (RFC 5465 NOTIFY): which accounts
//! it listens to, and the bounded queue between its actor and its IO loop.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::mpsc;

use super::account_events::{AccountChanged, EventQueue, SERVER};
use super::ServerContext;
use crate::protocols::imap::backend::Backend;
use crate::protocols::imap::session::{Action, Session};

/// Events a session holds for its client before it gives up on them and sends
/// `[NOTIFICATIONOVERFLOW]`: a client that reads nothing while thousands of messages
/// arrive costs the server no more than this many queued events.
pub const NOTIFY_QUEUE: usize = 1024;

/// One session's listening state.
pub struct NotifyLink {
    pub rx: mpsc::Receiver<AccountChanged>,
    queue: Arc<EventQueue>,
    me: Recipient<AccountChanged>,
    listening: HashSet<String>,
}

impl NotifyLink {
    /// The link and the queue the session actor feeds (`EventQueue::offer`).
    pub fn new(
        me: Recipient<AccountChanged>,
        queue: Arc<EventQueue>,
        rx: mpsc::Receiver<AccountChanged>,
    ) -> NotifyLink {
        NotifyLink {
            rx,
            queue,
            me,
            listening: HashSet::new(),
        }
    }

    /// Listens to these accounts (and to server-wide changes) from now on, once each, for
    /// the session's life: after NOTIFY NONE the session drops what still arrives. A new
    /// NOTIFY SET starts with a clean slate: an overflow while NOTIFY was off lost nothing.
    pub fn watch(&mut self, sctx: &ServerContext, owners: Vec<String>) {
        self.queue.take_overflow();
        for o in std::iter::once(SERVER.to_string()).chain(owners) {
            if self.listening.insert(o.clone()) {
                sctx.account_events.listen(&o, self.me.clone());
            }
        }
    }

    /// Hands an event to the session, or the news that events were lost.
    pub fn deliver(
        &self,
        event: AccountChanged,
        session: &mut Session,
        backend: &dyn Backend,
    ) -> Vec<Action> {
        if self.queue.take_overflow() {
            return session.notify_overflow();
        }
        session.account_event(event.0, backend)
    }
}
