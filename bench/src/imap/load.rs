//! The mixed load: C client tasks, each looping over IMAP commands for S
//! seconds on its account's mailbox.
//!
//! Counting rules, which the report relies on:
//! - an operation is one IMAP command that got a tagged response; OK
//!   counts as done, NO and BAD as errors (with their first lines kept);
//! - a connection error ends the connection; the client reconnects after a
//!   short pause and gives up after `MAX_RETRIES` failures in a row;
//! - latency runs from writing the command to reading its tagged response.
//!   For IDLE it is the time to the continuation request plus the time from
//!   DONE to the tagged OK, leaving out the ~100 ms the client idles.
//!
//! Keeping the mailbox bounded: a client marks the messages it appended
//! `\Deleted` and expunges them (UID EXPUNGE with UIDPLUS), and picks random
//! messages only below the top `clients × MAX_OWN` sequence numbers, where
//! other clients' short-lived messages live, so that its FETCH and STORE do
//! not race with their expunges.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::client::{Done, ImapClient, Status};
use super::report::{note, Op, OpStats};
use super::Shared;
use crate::client::ConnError;

/// Connection failures in a row a client tolerates before it gives up.
pub(super) const MAX_RETRIES: u32 = 3;
/// A client reconnects (LOGOUT, connect, LOGIN, SELECT) after about this many operations.
const OPS_PER_LOGIN: u32 = 50;
/// Most of its own appended messages a client keeps before expunging them.
const MAX_OWN: usize = 4;
/// How long a client stays in IDLE.
const IDLE_HOLD: Duration = Duration::from_millis(100);
/// Upper bound on connections one client opens in a run.
pub(super) const MAX_CONNECTIONS: u32 = 1_000_000;

/// What one client measured.
#[derive(Default)]
pub struct ClientStats {
    pub ops: OpStats,
    pub connection_errors: u64,
    pub errors: Vec<String>,
    /// When its last counted operation finished.
    pub last_op: Option<Instant>,
    /// Server responses that broke a protocol rule the client checks (see
    /// `ImapClient::protocol_errors`), and the first few of them.
    pub protocol_errors: u64,
    pub protocol_notes: Vec<String>,
}

/// The weighted mix of operations, per hundred (LOGIN, LOGOUT and the
/// STORE `\Deleted` before EXPUNGE come on top).
const MIX: [(Op, u32); 10] = [
    (Op::FetchHeaders, 14),
    (Op::FetchBody, 12),
    (Op::Store, 12),
    (Op::Append, 10),
    (Op::Expunge, 10),
    (Op::SearchUnseen, 7),
    (Op::SearchSubject, 7),
    (Op::Noop, 15),
    (Op::Idle, 8),
    (Op::Select, 5),
];

fn pick(rng: &mut StdRng) -> Op {
    let total: u32 = MIX.iter().map(|(_, w)| w).sum();
    let mut n = rng.gen_range(0..total);
    for (op, w) in MIX {
        if n < w {
            return op;
        }
        n -= w;
    }
    Op::Noop
}

/// One client: connect, LOGIN, SELECT, ~50 operations, LOGOUT, again,
/// until the deadline. Bounded by the deadline, by `MAX_CONNECTIONS` and
/// by `MAX_RETRIES` failures in a row.
pub async fn client(id: usize, shared: std::sync::Arc<Shared>) -> ClientStats {
    let mut c = Client {
        id,
        rng: StdRng::seed_from_u64(shared.run_id ^ (id as u64).wrapping_mul(0x9e37_79b9)),
        stats: ClientStats::default(),
        own: Vec::new(),
        seq: 0,
        shared,
    };
    let deadline = c.shared.deadline;
    reconnecting(
        &mut c,
        deadline,
        |c| &mut c.stats,
        async |c| c.connection().await,
    )
    .await;
    c.stats
}

/// Runs one connection after another (`attempt`: `Ok(true)` when it went well) until the
/// deadline, after `MAX_CONNECTIONS` of them, or after more than `MAX_RETRIES` failures in
/// a row, pausing longer after each failure. Shared by the mixed and the stress clients.
pub(super) async fn reconnecting<C>(
    c: &mut C,
    deadline: Instant,
    stats: impl Fn(&mut C) -> &mut ClientStats,
    mut attempt: impl AsyncFnMut(&mut C) -> Result<bool, ConnError>,
) {
    let mut failures = 0u32;
    for _ in 0..MAX_CONNECTIONS {
        if Instant::now() >= deadline || failures > MAX_RETRIES {
            break;
        }
        if failures > 0 {
            tokio::time::sleep(Duration::from_millis(100 * u64::from(failures))).await;
        }
        match attempt(c).await {
            Ok(true) => failures = 0,
            Ok(false) => failures += 1,
            Err(e) => {
                let stats = stats(c);
                stats.connection_errors += 1;
                note(&mut stats.errors, e.to_string());
                failures += 1;
            }
        }
    }
}

struct Client {
    id: usize,
    rng: StdRng,
    stats: ClientStats,
    /// UIDs this client appended and has not expunged yet.
    own: Vec<u32>,
    seq: u64,
    shared: std::sync::Arc<Shared>,
}

impl Client {
    /// One connection's life. `Ok(false)` when LOGIN or SELECT failed.
    async fn connection(&mut self) -> Result<bool, ConnError> {
        let shared = self.shared.clone();
        let mut imap = ImapClient::connect(&shared.connect).await?;
        let creds = shared.account(self.id);
        let started = Instant::now();
        let done = imap.login(creds).await?;
        if !self.record(Op::Login, started, &done) {
            let _ = imap.logout().await;
            return Ok(false);
        }
        if !self.select(&mut imap).await? {
            let _ = imap.logout().await;
            return Ok(false);
        }
        let ops = OPS_PER_LOGIN / 2 + self.rng.gen_range(0..OPS_PER_LOGIN);
        for _ in 0..ops {
            if Instant::now() >= shared.deadline {
                break;
            }
            let op = pick(&mut self.rng);
            self.operation(&mut imap, op).await?;
        }
        self.stats.absorb(&mut imap);
        if Instant::now() >= shared.deadline {
            // Not counted: leave the mailbox as it was.
            self.cleanup(&mut imap).await;
            let _ = imap.logout().await;
            return Ok(true);
        }
        let started = Instant::now();
        let done = imap.logout().await.unwrap_or_default();
        self.record(Op::Logout, started, &done);
        Ok(true)
    }

    async fn select(&mut self, imap: &mut ImapClient) -> Result<bool, ConnError> {
        let started = Instant::now();
        let done = imap
            .command(&format!("SELECT {}", self.shared.mailbox_quoted))
            .await?;
        Ok(self.record(Op::Select, started, &done))
    }

    /// A random message number that no other client will expunge.
    fn stable_message(&mut self, exists: u32) -> Option<u32> {
        let reserve = (self.shared.clients * MAX_OWN) as u32;
        let top = if exists > reserve * 2 {
            exists - reserve
        } else {
            exists
        };
        (top > 0).then(|| self.rng.gen_range(1..=top))
    }

    async fn operation(&mut self, imap: &mut ImapClient, op: Op) -> Result<(), ConnError> {
        let op = match op {
            Op::Expunge if self.own.is_empty() => Op::Append,
            Op::Append if self.own.len() >= MAX_OWN => Op::Expunge,
            Op::FetchHeaders | Op::FetchBody | Op::Store if imap.exists == 0 => Op::Append,
            Op::Idle if !imap.has_capability("IDLE") => Op::Noop,
            other => other,
        };
        let started = Instant::now();
        let command = match op {
            Op::FetchHeaders => {
                let range = if imap.exists >= 20 { "1:20" } else { "1:*" };
                format!("FETCH {range} (FLAGS UID RFC822.SIZE ENVELOPE)")
            }
            Op::FetchBody => match self.stable_message(imap.exists) {
                Some(n) => format!("FETCH {n} BODY.PEEK[]"),
                None => "NOOP".into(),
            },
            Op::Store => match self.stable_message(imap.exists) {
                Some(n) => {
                    let sign = if self.rng.gen_bool(0.5) { '+' } else { '-' };
                    format!("STORE {n} {sign}FLAGS (\\Flagged)")
                }
                None => "NOOP".into(),
            },
            Op::SearchUnseen => "UID SEARCH UNSEEN".into(),
            Op::SearchSubject => "SEARCH SUBJECT x".into(),
            Op::Noop => "NOOP".into(),
            Op::Select => format!("SELECT {}", self.shared.mailbox_quoted),
            Op::Append => return self.append(imap).await,
            Op::Expunge => return self.expunge(imap).await,
            Op::Idle => return self.idle(imap).await,
            // Not in this mix (LOGIN and LOGOUT come around it; the rest is the stress mix's).
            Op::Login
            | Op::Logout
            | Op::LoginReturning
            | Op::List
            | Op::Status
            | Op::FetchRandom
            | Op::FetchPart
            | Op::StoreDeleted => return Ok(()),
        };
        let done = imap.command(&command).await?;
        self.record(op, started, &done);
        Ok(())
    }

    async fn append(&mut self, imap: &mut ImapClient) -> Result<(), ConnError> {
        self.seq += 1;
        let message = self.shared.message(self.id, self.seq, "load");
        // Without UIDPLUS there is no APPENDUID to expunge by: append it already \Deleted.
        let flags = if imap.has_capability("UIDPLUS") {
            ""
        } else {
            "\\Deleted"
        };
        let started = Instant::now();
        let done = imap
            .append(&self.shared.mailbox, &[(flags, &message)])
            .await?;
        if self.record(Op::Append, started, &done) {
            if let Some(uid) = done.append_uid() {
                self.own.push(uid);
            }
        }
        Ok(())
    }

    /// STORE +FLAGS.SILENT (\Deleted) on its own messages, then EXPUNGE them.
    async fn expunge(&mut self, imap: &mut ImapClient) -> Result<(), ConnError> {
        let set = uid_set(&self.own);
        if !set.is_empty() {
            let started = Instant::now();
            let done = imap
                .command(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"))
                .await?;
            self.record(Op::Store, started, &done);
        }
        let command = if imap.has_capability("UIDPLUS") && !set.is_empty() {
            format!("UID EXPUNGE {set}")
        } else {
            "EXPUNGE".into()
        };
        let started = Instant::now();
        let done = imap.command(&command).await?;
        if self.record(Op::Expunge, started, &done) {
            self.own.clear();
        }
        Ok(())
    }

    async fn idle(&mut self, imap: &mut ImapClient) -> Result<(), ConnError> {
        let started = Instant::now();
        if let Some((_, refused)) = imap.idle_start().await? {
            self.record(Op::Idle, started, &refused);
            return Ok(());
        }
        let entering = started.elapsed();
        tokio::time::sleep(IDLE_HOLD).await;
        let done_at = Instant::now();
        let done = imap.idle_done().await?;
        let latency = entering + done_at.elapsed();
        self.record_latency(Op::Idle, latency, &done);
        Ok(())
    }

    /// Uncounted: removes what this client appended, best effort.
    async fn cleanup(&mut self, imap: &mut ImapClient) {
        let set = uid_set(&self.own);
        if set.is_empty() {
            return;
        }
        let store = format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)");
        if imap.command(&store).await.is_ok() {
            let expunge = if imap.has_capability("UIDPLUS") {
                format!("UID EXPUNGE {set}")
            } else {
                "EXPUNGE".into()
            };
            if imap.command(&expunge).await.is_ok() {
                self.own.clear();
            }
        }
    }

    /// Counts a tagged response; true when it was OK.
    fn record(&mut self, op: Op, started: Instant, done: &Done) -> bool {
        self.record_latency(op, started.elapsed(), done)
    }

    fn record_latency(&mut self, op: Op, latency: Duration, done: &Done) -> bool {
        self.stats.record(op, latency, done)
    }
}

impl ClientStats {
    /// Takes over the protocol errors a connection noticed.
    pub fn absorb(&mut self, imap: &mut ImapClient) {
        self.protocol_errors += std::mem::take(&mut imap.protocol_errors);
        for n in std::mem::take(&mut imap.protocol_notes) {
            note(&mut self.protocol_notes, n);
        }
    }

    /// Counts a tagged response that took `latency`; true when it was OK.
    pub fn record(&mut self, op: Op, latency: Duration, done: &Done) -> bool {
        self.last_op = Some(Instant::now());
        let s = self.ops.get_mut(op);
        match done.status {
            Some(Status::Ok) => {
                s.ok += 1;
                s.latencies_us.push(latency.as_micros() as u64);
                true
            }
            Some(Status::No) => {
                s.no += 1;
                note(&mut s.first_lines, done.text.chars().take(200).collect());
                false
            }
            Some(Status::Bad) | None => {
                s.bad += 1;
                note(&mut s.first_lines, done.text.chars().take(200).collect());
                false
            }
        }
    }
}

/// `1,5,7` — a UID set of the given UIDs.
pub(super) fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_covers_every_load_command() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..10_000 {
            seen.insert(pick(&mut rng));
        }
        assert_eq!(seen.len(), MIX.len());
        assert_eq!(MIX.iter().map(|(_, w)| w).sum::<u32>(), 100);
        assert_eq!(uid_set(&[3, 9]), "3,9");
        assert_eq!(uid_set(&[]), "");
    }
}
