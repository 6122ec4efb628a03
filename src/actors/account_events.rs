//! Account-wide change broadcast: what happens to an account's mailboxes as a whole
//! (message changes in any of its folders, mailboxes created, deleted or renamed,
//! subscriptions, metadata), for sessions that watch more than their selected folder
//! (IMAP NOTIFY, RFC 5465; later webmail and EAS).
//!
//! Publishers: every folder actor after each change it broadcasts to its own subscribers
//! (so a session hears of any folder without subscribing to each), and the IMAP backend
//! after it creates, deletes or renames a mailbox, changes a subscription or metadata.
//! Listeners register per account ("" for the public folders) with
//! [`AccountEvents::listen`]; a listener that went away is dropped at the next publish.
//!
//! Listeners are actix recipients, so publishing never blocks the publisher (a folder
//! actor). A session must not let a slow client grow its queue without bound:
//! [`EventQueue`] is the bounded hand-over between the session actor and its IO loop, and
//! remembers an overflow so that the session can tell the client (RFC 5465 §5.8).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use actix::prelude::*;
use tokio::sync::mpsc;

use super::supervisor::lock;
pub use crate::protocols::imap::notify::{AccountEvent, MessageKind};

/// A change in an account, published after it is stored: the protocol layer's
/// [`AccountEvent`] (owners and names as storage keeps them: owner "" for public folders,
/// names relative to their owner), as an actor message.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct AccountChanged(pub AccountEvent);

/// The listening key of server-wide changes: no account address can be empty.
pub const SERVER: &str = "@server";

/// The registry: account → listeners.
#[derive(Default)]
pub struct AccountEvents {
    listeners: Mutex<HashMap<String, Vec<Recipient<AccountChanged>>>>,
}

impl AccountEvents {
    /// From now on, `to` hears of `account`'s changes (until it stops).
    pub fn listen(&self, account: &str, to: Recipient<AccountChanged>) {
        lock(&self.listeners)
            .entry(account.to_string())
            .or_default()
            .push(to);
    }

    /// Tells `account`'s listeners; cheap when there are none.
    pub fn publish(&self, account: &str, event: AccountChanged) {
        let mut all = lock(&self.listeners);
        let Some(list) = all.get_mut(account) else {
            return;
        };
        list.retain(|r| r.connected());
        if list.is_empty() {
            all.remove(account);
            return;
        }
        for r in list.iter() {
            r.do_send(event.clone());
        }
    }

    /// Server-wide changes (server metadata), to the listeners of [`SERVER`].
    pub fn publish_server(&self, event: AccountChanged) {
        self.publish(SERVER, event);
    }

    pub fn listener_count(&self) -> usize {
        lock(&self.listeners).values().map(Vec::len).sum()
    }
}

/// A bounded queue of events for one session. When it is full the event is dropped and
/// the overflow remembered: the session must then tell its client that it lost events.
pub struct EventQueue {
    tx: mpsc::Sender<AccountChanged>,
    overflowed: AtomicBool,
}

impl EventQueue {
    pub fn new(capacity: usize) -> (EventQueue, mpsc::Receiver<AccountChanged>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let q = EventQueue {
            tx,
            overflowed: AtomicBool::new(false),
        };
        (q, rx)
    }

    /// Queues an event; false when it was dropped because the queue is full.
    pub fn offer(&self, event: AccountChanged) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::SeqCst);
                false
            }
            // The session is ending: nobody to tell.
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Whether events were dropped since the last call.
    pub fn take_overflow(&self) -> bool {
        self.overflowed.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: u64) -> AccountChanged {
        AccountChanged(AccountEvent::Message {
            folder: n,
            kind: MessageKind::New,
        })
    }

    #[test]
    fn a_full_queue_drops_and_remembers_the_overflow() {
        let (q, mut rx) = EventQueue::new(3);
        assert!(q.offer(ev(1)) && q.offer(ev(2)) && q.offer(ev(3)));
        assert!(!q.take_overflow());
        assert!(!q.offer(ev(4)));
        assert!(q.take_overflow());
        // Told once.
        assert!(!q.take_overflow());
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(got, vec![ev(1), ev(2), ev(3)]);
        assert!(q.offer(ev(5)));
    }

    #[test]
    fn publishing_without_listeners_is_a_no_op() {
        let r = AccountEvents::default();
        r.publish("a@x", ev(1));
        r.publish_server(ev(2));
        assert_eq!(r.listener_count(), 0);
    }
}
