//! Connections to PostgreSQL for synchronous callers.
//!
//! The storage traits are synchronous and are called from actix arbiters, which are tokio
//! runtimes. The blocking `postgres` client drives its own small runtime and must not be used
//! on a thread that is already inside one, so a call made from such a thread runs on a short
//! scoped thread (`std::thread::scope`): the closure may borrow the caller's arguments, and
//! the caller blocks until it has finished, as it would on sled's disk I/O. Callers outside
//! any runtime (the commit thread, the console's one-shot commands, tests) run it in place.
//!
//! The pool holds at most `size` connections; a caller waits for a free one. A connection
//! that broke is dropped and a new one is made on the next checkout. Every connection sets
//! the configured `search_path` and `statement_timeout` when it is made, and
//! `synchronous_commit = off`: a transaction's commit does not wait for its WAL to reach the
//! disk. Durability comes from the commit rounds instead, as with sled (see [`flush_wal`]).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Transaction};

use crate::storage::StorageError;

/// How to reach the database: everything a new connection needs.
#[derive(Clone)]
pub(crate) struct Connect {
    pub(crate) config: postgres::Config,
    /// rustls configuration when the URL asks for TLS (`sslmode=require`), else none.
    pub(crate) tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// The schema the tables live in (`search_path`).
    pub(crate) schema: String,
    pub(crate) statement_timeout: Duration,
}

impl Connect {
    pub(crate) fn connect(&self) -> Result<Client, StorageError> {
        let mut client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        }
        .map_err(pg_error)?;
        client
            .batch_execute(&format!(
                "SET search_path TO {}; SET statement_timeout = {}; SET synchronous_commit = off",
                quote_ident(&self.schema),
                self.statement_timeout.as_millis()
            ))
            .map_err(pg_error)?;
        Ok(client)
    }
}

/// A bounded pool of connections.
pub(crate) struct Pool {
    connect: Connect,
    size: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Client>,
    /// Connections in existence (idle or checked out).
    open: usize,
}

impl Pool {
    pub(crate) fn new(connect: Connect, size: usize) -> Pool {
        Pool {
            connect,
            size: size.max(1),
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    pub(crate) fn connect_settings(&self) -> &Connect {
        &self.connect
    }

    /// Runs `f` with a connection (see the module notes for the thread it runs on).
    pub(crate) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StorageError> + Send,
    ) -> Result<T, StorageError> {
        // Connecting (in `checkout`) runs the blocking client too.
        off_runtime(|| {
            let mut lent = Lent {
                pool: self,
                client: Some(self.checkout()?),
            };
            let client = lent.client.as_mut().expect("a checked-out client");
            f(client)
        })
    }

    /// Runs `f` in one transaction and commits it. `f` runs again (up to 10 times in all)
    /// when PostgreSQL reports a serialization failure or a deadlock, so it must not have
    /// side effects outside the transaction.
    pub(crate) fn tx<T: Send>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, StorageError> + Send,
    ) -> Result<T, StorageError> {
        self.with(move |client| {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut tx = client.transaction().map_err(pg_error)?;
                let outcome = f(&mut tx);
                let outcome = match outcome {
                    Ok(v) => tx.commit().map(|()| v).map_err(pg_error),
                    Err(e) => Err(e),
                };
                match outcome {
                    Err(StorageError::Backend(msg)) if attempt < 10 && is_retryable(&msg) => {
                        continue
                    }
                    other => return other,
                }
            }
        })
    }

    fn checkout(&self) -> Result<Client, StorageError> {
        let mut state = lock(&self.state);
        loop {
            while let Some(client) = state.idle.pop() {
                if !client.is_closed() {
                    return Ok(client);
                }
                state.open -= 1;
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return match self.connect.connect() {
                    Ok(c) => Ok(c),
                    Err(e) => {
                        lock(&self.state).open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn checkin(&self, client: Client) {
        let mut state = lock(&self.state);
        if client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(client);
        }
        drop(state);
        self.freed.notify_one();
    }
}

/// Makes every transaction committed so far durable: one transaction with an id, committed
/// with `synchronous_commit = on`, waits until the WAL is on disk up to its commit record,
/// which covers every earlier (asynchronous) commit of the database. This is the commit
/// round's index flush: one WAL flush for all the writes of the round (group commit), where
/// a synchronous commit per transaction would flush once per write.
pub(crate) fn flush_wal(client: &mut Client) -> Result<(), StorageError> {
    client
        .batch_execute("BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT")
        .map_err(pg_error)
}

/// Runs `f` where the blocking client may run: in place, or on a short scoped thread when
/// the caller is inside a tokio runtime (see the module notes).
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A checked-out connection, returned to the pool when dropped — also when the closure using
/// it panicked: the connection is then closed (it may be in the middle of a transaction) and
/// its place freed, so a panic never shrinks the pool.
struct Lent<'a> {
    pool: &'a Pool,
    client: Option<Client>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if std::thread::panicking() {
            drop(client);
            lock(&self.pool.state).open -= 1;
            self.pool.freed.notify_one();
        } else {
            self.pool.checkin(client);
        }
    }
}

fn lock(m: &Mutex<PoolState>) -> std::sync::MutexGuard<'_, PoolState> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The marker [`pg_error`] puts before the SQLSTATE of an error the transaction may retry.
const RETRY_MARK: &str = "(retryable ";

fn is_retryable(msg: &str) -> bool {
    msg.contains(RETRY_MARK)
}

/// A PostgreSQL error as a [`StorageError::Backend`] with the server's words (and, for
/// serialization failures and deadlocks, a mark that lets [`Pool::tx`] retry). Callers that
/// expect a unique violation check its SQLSTATE themselves and answer `Exists`.
pub(crate) fn pg_error(e: postgres::Error) -> StorageError {
    match e.code() {
        Some(code)
            if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StorageError::Backend(format!("{e} {RETRY_MARK}{})", code.code()))
        }
        _ => StorageError::Backend(match e.as_db_error() {
            Some(db) => format!("PostgreSQL: {}", db.message()),
            None => format!("PostgreSQL: {e}"),
        }),
    }
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A closure that panics with the pool's only connection frees its place: the next
    /// caller gets a new connection instead of waiting for ever.
    #[test]
    fn a_panic_with_a_connection_does_not_shrink_the_pool() {
        // (The variable `testing::url` reads; that module imports this one.)
        let Ok(url) = std::env::var("FERRYMAIL_TEST_PG_URL") else {
            eprintln!("SKIPPED pool panic test: no PostgreSQL (FERRYMAIL_TEST_PG_URL is not set)");
            return;
        };
        let pool = Pool::new(
            Connect {
                config: url.parse().expect("test URL"),
                tls: None,
                schema: "public".into(),
                statement_timeout: Duration::from_secs(30),
            },
            1,
        );
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = pool.with(|_c| -> Result<(), StorageError> { panic!("test panic") });
        }));
        assert!(panicked.is_err());
        let one: i32 = pool
            .with(|c| Ok(c.query_one("SELECT 1", &[]).map_err(pg_error)?.get(0)))
            .expect("a new connection");
        assert_eq!(one, 1);
    }
}
