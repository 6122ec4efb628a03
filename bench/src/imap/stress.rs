//! `--mix stress`: the command mix of Dovecot imaptest's stress mode at its defaults, so
//! that `ferrymail bench imap` measures what imaptest measures, on any server, with the
//! latencies, server CPU and memory that imaptest does not report.
//!
//! Each client runs sessions back to back until the deadline, always on its own account
//! (so every LOGIN after a client's first is a returning client's). One session is
//! imaptest's state sequence with its default probabilities (imaptest's
//! `src/client-state.c`, release-2.3; the percentage is the chance the state runs, "again"
//! the chance it repeats):
//!
//! | state | command | runs | again |
//! | --- | --- | --- | --- |
//! | LOGIN | `LOGIN user pass` | 100 % | |
//! | LIST | `LIST "" *` | 50 % | |
//! | STATUS | `STATUS mailbox (MESSAGES UNSEEN RECENT)` | 50 % | |
//! | SELECT | `SELECT mailbox` (`(CONDSTORE)` when offered) | 100 % | |
//! | FETCH | `FETCH set (1 to 4 random items)` on up to 100 random messages | 100 % | |
//! | FETCH2 | `FETCH n (UID BODY.PEEK[…])`, one random body part | 100 % | 30 % |
//! | STORE | `STORE set ±FLAGS[.SILENT] (random flags and $Label keywords)` | 50 % | |
//! | DELETE | `STORE set +FLAGS[.SILENT] \Deleted` | 100 % (then mostly 0 or 1 message) | |
//! | EXPUNGE | `EXPUNGE` | 100 % | |
//! | APPEND | `APPEND mailbox {n}` while under 30 messages | 100 % | 5 % |
//! | LOGOUT | `LOGOUT` | 100 % | |
//!
//! COPY is off in imaptest unless a copy destination is given, so it is off here too.
//! Differences from imaptest: commands are not pipelined (imaptest sends up to 10 at
//! once), and the only server output checked beyond tagged status is keyword
//! announcement (`ImapClient::protocol_errors`); imaptest checks much more, so run it too
//! for correctness (docs/benchmarks.md shows how).
//!
//! Every command with a tagged response counts as one operation, as imaptest counts them.

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::client::{Done, ImapClient};
use super::load::{reconnecting, ClientStats};
use super::report::Op;
use super::Shared;
use crate::client::ConnError;

/// imaptest's `msgs` default: APPEND runs only while the mailbox holds fewer messages.
const MESSAGE_COUNT_THRESHOLD: u32 = 30;
/// At most this many messages in one FETCH (imaptest: `min(msgs, 100)`).
const MAX_FETCH: u32 = 100;
/// Most repetitions of an "again" state in one session (imaptest's plan holds 20 states).
const MAX_AGAIN: u32 = 20;

const FETCH_ITEMS: [&str; 7] = [
    "UID",
    "FLAGS",
    "ENVELOPE",
    "INTERNALDATE",
    "BODY",
    "BODYSTRUCTURE",
    "RFC822.SIZE",
];
const HEADER_FIELDS: [&str; 7] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "References",
    "In-Reply-To",
    "Message-ID",
];
const FETCH2_ITEMS: [&str; 5] = [
    "BODY.PEEK[HEADER]",
    "RFC822.HEADER",
    "BODY.PEEK[]",
    "BODY.PEEK[1]",
    "BODY.PEEK[TEXT]",
];
/// The flags a random STORE chooses from (imaptest leaves out \Deleted and \Recent).
const SYSTEM_FLAGS: [&str; 4] = ["\\Answered", "\\Flagged", "\\Seen", "\\Draft"];
const KEYWORDS: [&str; 5] = ["$Label1", "$Label2", "$Label3", "$Label4", "$Label5"];

/// One stress client: sessions until the deadline. Bounded by the deadline, by
/// `MAX_CONNECTIONS` sessions and by `MAX_RETRIES` failures in a row.
pub async fn client(id: usize, shared: Arc<Shared>) -> ClientStats {
    let mut c = StressClient {
        id,
        rng: StdRng::seed_from_u64(shared.run_id ^ (id as u64).wrapping_mul(0x85eb_ca6b)),
        stats: ClientStats::default(),
        seq: 0,
        logged_in_before: false,
        shared,
    };
    let deadline = c.shared.deadline;
    reconnecting(
        &mut c,
        deadline,
        |c| &mut c.stats,
        async |c| c.session().await,
    )
    .await;
    c.stats
}

struct StressClient {
    id: usize,
    rng: StdRng,
    stats: ClientStats,
    seq: u64,
    logged_in_before: bool,
    shared: Arc<Shared>,
}

impl StressClient {
    /// One session through imaptest's states. `Ok(false)` when LOGIN or SELECT failed.
    async fn session(&mut self) -> Result<bool, ConnError> {
        let shared = self.shared.clone();
        let mut imap = ImapClient::connect(&shared.connect).await?;
        let login = if self.logged_in_before {
            Op::LoginReturning
        } else {
            Op::Login
        };
        let started = Instant::now();
        let done = imap.login(shared.account(self.id)).await?;
        if !self.record(login, started, &done) {
            let _ = imap.logout().await;
            return Ok(false);
        }
        self.logged_in_before = true;
        let result = self.selected_states(&mut imap).await;
        self.stats.absorb(&mut imap);
        match result {
            Ok(true) => {}
            Ok(false) => {
                let _ = imap.logout().await;
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        if Instant::now() < shared.deadline {
            let started = Instant::now();
            let done = imap.logout().await.unwrap_or_default();
            self.record(Op::Logout, started, &done);
        } else {
            let _ = imap.logout().await;
        }
        Ok(true)
    }

    /// LIST to APPEND; stops early at the deadline.
    async fn selected_states(&mut self, imap: &mut ImapClient) -> Result<bool, ConnError> {
        let mailbox = self.shared.mailbox_quoted.clone();
        if self.rng.gen_bool(0.5) {
            self.run(imap, Op::List, "LIST \"\" *".into()).await?;
        }
        if self.rng.gen_bool(0.5) {
            let status = format!("STATUS {mailbox} (MESSAGES UNSEEN RECENT)");
            self.run(imap, Op::Status, status).await?;
        }
        let condstore = if imap.has_capability("CONDSTORE") {
            " (CONDSTORE)"
        } else {
            ""
        };
        if !self
            .run(imap, Op::Select, format!("SELECT {mailbox}{condstore}"))
            .await?
        {
            return Ok(false);
        }
        let deadline = self.shared.deadline;
        let before = || Instant::now() < deadline;
        if before() && imap.exists > 0 {
            let command = fetch_command(&mut self.rng, imap.exists);
            self.run(imap, Op::FetchRandom, command).await?;
        }
        for _ in 0..MAX_AGAIN {
            if !before() || imap.exists == 0 {
                break;
            }
            let n = self.rng.gen_range(1..=imap.exists);
            let item = FETCH2_ITEMS.choose(&mut self.rng).unwrap_or(&"BODY.PEEK[]");
            self.run(imap, Op::FetchPart, format!("FETCH {n} (UID {item})"))
                .await?;
            if !self.rng.gen_bool(0.3) {
                break;
            }
        }
        if before() && self.rng.gen_bool(0.5) {
            if let Some(command) = store_command(&mut self.rng, imap.exists, imap.keywords_allowed)
            {
                self.run(imap, Op::Store, command).await?;
            }
        }
        if before() {
            if let Some(command) = delete_command(&mut self.rng, imap.exists) {
                self.run(imap, Op::StoreDeleted, command).await?;
            }
        }
        if before() {
            self.run(imap, Op::Expunge, "EXPUNGE".into()).await?;
        }
        for _ in 0..MAX_AGAIN {
            let msgs = imap.exists;
            if !before() || msgs - (msgs >> 3) >= MESSAGE_COUNT_THRESHOLD {
                break;
            }
            self.append(imap).await?;
            if !self.rng.gen_bool(0.05) {
                break;
            }
        }
        Ok(true)
    }

    async fn append(&mut self, imap: &mut ImapClient) -> Result<(), ConnError> {
        self.seq += 1;
        let message = self.shared.message(self.id, self.seq, "stress");
        let started = Instant::now();
        let done = imap.append(&self.shared.mailbox, &[("", &message)]).await?;
        self.record(Op::Append, started, &done);
        Ok(())
    }

    async fn run(
        &mut self,
        imap: &mut ImapClient,
        op: Op,
        command: String,
    ) -> Result<bool, ConnError> {
        let started = Instant::now();
        let done = imap.command(&command).await?;
        Ok(self.record(op, started, &done))
    }

    fn record(&mut self, op: Op, started: Instant, done: &Done) -> bool {
        self.stats.record(op, started.elapsed(), done)
    }
}

/// imaptest's FETCH: up to 100 random messages, 1 to 4 items, a quarter of them
/// `BODY.PEEK[HEADER.FIELDS (…)]` with 1 to 4 random fields.
fn fetch_command(rng: &mut StdRng, exists: u32) -> String {
    let set = random_set(rng, exists.min(MAX_FETCH), exists);
    let mut items = Vec::new();
    for _ in 0..rng.gen_range(1..=4) {
        if rng.gen_range(0..4) != 0 {
            items.push(FETCH_ITEMS.choose(rng).unwrap_or(&"UID").to_string());
        } else {
            let fields: Vec<&str> = (0..rng.gen_range(1..=4))
                .filter_map(|_| HEADER_FIELDS.choose(rng).copied())
                .collect();
            items.push(format!("BODY.PEEK[HEADER.FIELDS ({})]", fields.join(" ")));
        }
    }
    format!("FETCH {set} ({})", items.join(" "))
}

/// imaptest's STORE: `msgs/5` (at most 50) random messages, +, - or replace, half of
/// them .SILENT, each system flag at 50 % and each keyword at 25 % (keywords only where
/// the server lets clients create them).
fn store_command(rng: &mut StdRng, msgs: u32, keywords_allowed: bool) -> Option<String> {
    let bound = if msgs < 10 { msgs } else { (msgs / 5).min(50) };
    let count = if bound == 0 {
        0
    } else {
        rng.gen_range(0..bound)
    };
    if count == 0 {
        return None;
    }
    let set = random_set(rng, count, msgs);
    let sign = ["+", "-", ""][rng.gen_range(0..3)];
    let silent = if rng.gen_bool(0.5) { ".SILENT" } else { "" };
    let mut flags: Vec<&str> = SYSTEM_FLAGS
        .iter()
        .copied()
        .filter(|_| rng.gen_bool(0.5))
        .collect();
    if keywords_allowed {
        flags.extend(
            KEYWORDS
                .iter()
                .copied()
                .filter(|_| rng.gen_range(0..4) == 0),
        );
    }
    Some(format!(
        "STORE {set} {sign}FLAGS{silent} ({})",
        flags.join(" ")
    ))
}

/// imaptest's DELETE: below 1 + (100 + 50) / 100 = 2 messages, plus the excess over the
/// threshold (+ 5), at most 1000; nothing when that comes out at 0.
fn delete_command(rng: &mut StdRng, msgs: u32) -> Option<String> {
    let mut bound = 2;
    if msgs > MESSAGE_COUNT_THRESHOLD + 5 {
        bound += msgs - MESSAGE_COUNT_THRESHOLD;
    }
    let count = rng.gen_range(0..bound).min(1000).min(msgs);
    if count == 0 {
        return None;
    }
    let set = random_set(rng, count, msgs);
    let silent = if rng.gen_bool(0.5) { ".SILENT" } else { "" };
    Some(format!("STORE {set} +FLAGS{silent} (\\Deleted)"))
}

/// A sequence set of `count` distinct random messages of `1..=msgs`, ranges merged.
fn random_set(rng: &mut StdRng, count: u32, msgs: u32) -> String {
    let count = count.min(msgs) as usize;
    let mut seqs = rand::seq::index::sample(rng, msgs as usize, count).into_vec();
    seqs.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < seqs.len() {
        let start = seqs[i];
        while i + 1 < seqs.len() && seqs[i + 1] == seqs[i] + 1 {
            i += 1;
        }
        out.push(if seqs[i] == start {
            format!("{}", start + 1)
        } else {
            format!("{}:{}", start + 1, seqs[i] + 1)
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_sets_are_distinct_in_range_and_merged() {
        let rng = &mut StdRng::seed_from_u64(7);
        assert_eq!(random_set(rng, 5, 5), "1:5");
        assert_eq!(random_set(rng, 1, 1), "1");
        assert_eq!(random_set(rng, 9, 3), "1:3", "never more than there are");
        for _ in 0..200 {
            let set = random_set(rng, 7, 40);
            let mut n = 0;
            for part in set.split(',') {
                let (a, b) = part.split_once(':').unwrap_or((part, part));
                let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                assert!(1 <= a && a <= b && b <= 40, "{set}");
                n += b - a + 1;
            }
            assert_eq!(n, 7, "{set}");
        }
    }

    #[test]
    fn commands_follow_imaptest_shapes() {
        let rng = &mut StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let f = fetch_command(rng, 50);
            assert!(f.starts_with("FETCH ") && f.ends_with(')'), "{f}");
            if let Some(d) = delete_command(rng, 3) {
                assert!(d.ends_with(" (\\Deleted)") && d.contains("+FLAGS"), "{d}");
            }
            if let Some(st) = store_command(rng, 50, false) {
                assert!(st.starts_with("STORE ") && !st.contains('$'), "{st}");
                assert!(!st.contains("Deleted"), "{st}");
            }
        }
        let keywords = (0..200)
            .filter_map(|_| store_command(rng, 50, true))
            .filter(|st| st.contains("$Label"))
            .count();
        assert!(keywords > 0);
        // Far over the threshold, DELETE trims the excess.
        let big = (0..50).filter_map(|_| delete_command(rng, 100)).count();
        assert!(big > 40, "{big}");
        assert_eq!(delete_command(rng, 0), None);
        assert_eq!(store_command(rng, 0, true), None);
    }
}
