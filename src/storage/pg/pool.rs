//! Connections to PostgreSQL for synchronous callers.
//!
//! The storage traits are synchronous and are called from actix arbiters, which are tokio
//! runtimes. The blocking `postgres` client drives its own small runtime and must not be used
//! on a thread that is already inside one, so a call made from such a thread runs on one of a
//! set of persistent worker threads (see [`off_runtime`]): the closure may borrow the caller's
//! arguments, and the caller blocks until it has finished, as it would on sled's disk I/O.
//! Callers outside any runtime (the commit thread, the workers themselves, the console's
//! one-shot commands, tests) run it in place.
//!
//! The pool holds at most `size` connections; a caller waits for a free one. A connection
//! that broke is dropped and a new one is made on the next checkout. Every connection sets
//! the configured `search_path` and `statement_timeout` when it is made, and
//! `synchronous_commit = off`: a transaction's commit does not wait for its WAL to reach the
//! disk. Durability comes from the commit rounds instead, as with sled (see [`flush_wal`]).
//!
//! Each connection keeps the statements it has prepared, by SQL text ([`Db`]): a statement is
//! parsed and planned once per connection, and each later use is one round trip (bind and
//! execute) instead of two (parse, then bind and execute).

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement, Transaction};

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

/// The statements one connection has prepared, by SQL text. Statements built from a varying
/// number of placeholders could grow it without end, so it is emptied when full.
#[derive(Default)]
struct StatementCache(HashMap<String, Statement>);

/// The most statements one connection keeps prepared.
const STATEMENT_CACHE_SIZE: usize = 512;

impl StatementCache {
    fn get(
        &mut self,
        sql: &str,
        prepare: impl FnOnce() -> Result<Statement, postgres::Error>,
    ) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = prepare()?;
        if self.0.len() >= STATEMENT_CACHE_SIZE {
            self.0.clear();
        }
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// SQL a [`Db`] method runs: text (prepared once per connection) or a statement already
/// prepared on that connection.
pub(crate) trait Sql {
    /// The prepared statement for this SQL on `db`'s connection.
    fn statement(&self, db: &mut impl Db) -> Result<Statement, postgres::Error>;
}

impl Sql for str {
    fn statement(&self, db: &mut impl Db) -> Result<Statement, postgres::Error> {
        db.cached(self)
    }
}

impl Sql for String {
    fn statement(&self, db: &mut impl Db) -> Result<Statement, postgres::Error> {
        db.cached(self)
    }
}

impl Sql for Statement {
    fn statement(&self, _db: &mut impl Db) -> Result<Statement, postgres::Error> {
        Ok(self.clone())
    }
}

/// Parameters of a statement, as the `postgres` client takes them.
pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

/// A connection or a transaction on one, running statements through the connection's cache
/// of prepared statements. It takes the place of the client's `GenericClient`, whose
/// `query` with SQL text prepares the statement anew on every call.
pub(crate) trait Db {
    /// The statement for `sql`, prepared on this connection once and then reused.
    fn cached(&mut self, sql: &str) -> Result<Statement, postgres::Error>;

    /// Prepares `sql` without keeping it (for a statement the caller keeps itself).
    fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error>;

    fn query_statement(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error>;

    fn execute_statement(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<u64, postgres::Error>;

    /// Runs statements with the simple protocol (no parameters, not prepared).
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error>;

    fn query<S: Sql + ?Sized>(
        &mut self,
        sql: &S,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error>
    where
        Self: Sized,
    {
        let statement = sql.statement(self)?;
        self.query_statement(&statement, params)
    }

    fn execute<S: Sql + ?Sized>(
        &mut self,
        sql: &S,
        params: &Params<'_>,
    ) -> Result<u64, postgres::Error>
    where
        Self: Sized,
    {
        let statement = sql.statement(self)?;
        self.execute_statement(&statement, params)
    }

    /// The one row `sql` returns; an error when it returns none or several.
    fn query_one<S: Sql + ?Sized>(
        &mut self,
        sql: &S,
        params: &Params<'_>,
    ) -> Result<Row, postgres::Error>
    where
        Self: Sized,
    {
        let statement = sql.statement(self)?;
        self.query_statement_one(&statement, params)
    }

    /// The row `sql` returns, if any; an error when it returns several.
    fn query_opt<S: Sql + ?Sized>(
        &mut self,
        sql: &S,
        params: &Params<'_>,
    ) -> Result<Option<Row>, postgres::Error>
    where
        Self: Sized,
    {
        let statement = sql.statement(self)?;
        self.query_statement_opt(&statement, params)
    }

    fn query_statement_one(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Row, postgres::Error>;

    fn query_statement_opt(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Option<Row>, postgres::Error>;
}

/// A pooled connection with its prepared statements.
pub(crate) struct Conn {
    client: Client,
    cache: StatementCache,
}

impl Conn {
    /// Opens a transaction on this connection (committed by [`Tx::commit`], rolled back when
    /// dropped without it).
    pub(crate) fn transaction(&mut self) -> Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self.client.transaction()?,
            cache: &mut self.cache,
        })
    }
}

impl Db for Conn {
    fn cached(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        let client = &mut self.client;
        self.cache.get(sql, || client.prepare(sql))
    }

    fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        self.client.prepare(sql)
    }

    fn query_statement(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        self.client.query(statement, params)
    }

    fn execute_statement(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<u64, postgres::Error> {
        self.client.execute(statement, params)
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }

    fn query_statement_one(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Row, postgres::Error> {
        self.client.query_one(statement, params)
    }

    fn query_statement_opt(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        self.client.query_opt(statement, params)
    }
}

/// A transaction on a pooled connection, sharing the connection's prepared statements.
pub(crate) struct Tx<'a> {
    tx: Transaction<'a>,
    cache: &'a mut StatementCache,
}

impl Tx<'_> {
    pub(crate) fn commit(self) -> Result<(), postgres::Error> {
        self.tx.commit()
    }
}

impl Db for Tx<'_> {
    fn cached(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        let tx = &mut self.tx;
        self.cache.get(sql, || tx.prepare(sql))
    }

    fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        self.tx.prepare(sql)
    }

    fn query_statement(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        self.tx.query(statement, params)
    }

    fn execute_statement(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<u64, postgres::Error> {
        self.tx.execute(statement, params)
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.tx.batch_execute(sql)
    }

    fn query_statement_one(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Row, postgres::Error> {
        self.tx.query_one(statement, params)
    }

    fn query_statement_opt(
        &mut self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        self.tx.query_opt(statement, params)
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
    idle: Vec<Conn>,
    /// Connections in existence (idle or checked out).
    open: usize,
}

/// The blocking client drives its connection on a runtime of its own, so closing one from a
/// thread that runs an async runtime panics ("cannot start a runtime from within a
/// runtime"). The last handle to a store can be dropped anywhere (a test's server context
/// on its runtime, a shutdown): the idle connections are closed on a thread of their own.
impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.state).idle);
        if idle.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            drop(idle);
            return;
        }
        let closer = std::thread::Builder::new()
            .name("pg-close".into())
            .spawn(move || drop(idle));
        if let Ok(t) = closer {
            let _ = t.join();
        }
    }
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

    /// The most connections the pool opens.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn connect_settings(&self) -> &Connect {
        &self.connect
    }

    /// Runs `f` with a connection (see the module notes for the thread it runs on).
    pub(crate) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, StorageError> + Send,
    ) -> Result<T, StorageError> {
        // Connecting (in `checkout`) runs the blocking client too.
        off_runtime(|| {
            let mut lent = Lent {
                pool: self,
                conn: Some(self.checkout()?),
            };
            let conn = lent.conn.as_mut().expect("a checked-out connection");
            f(conn)
        })
    }

    /// Runs `f` in one transaction and commits it. `f` runs again (up to 10 times in all)
    /// when PostgreSQL reports a serialization failure or a deadlock, so it must not have
    /// side effects outside the transaction.
    pub(crate) fn tx<T: Send>(
        &self,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T, StorageError> + Send,
    ) -> Result<T, StorageError> {
        self.with(move |conn| {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut tx = conn.transaction().map_err(pg_error)?;
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

    fn checkout(&self) -> Result<Conn, StorageError> {
        let mut state = lock(&self.state);
        loop {
            while let Some(conn) = state.idle.pop() {
                if !conn.client.is_closed() {
                    return Ok(conn);
                }
                state.open -= 1;
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return match self.connect.connect() {
                    Ok(client) => Ok(Conn {
                        client,
                        cache: StatementCache::default(),
                    }),
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

    fn checkin(&self, conn: Conn) {
        let mut state = lock(&self.state);
        if conn.client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(conn);
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
pub(crate) fn flush_wal(conn: &mut Conn) -> Result<(), StorageError> {
    conn.batch_execute("BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT")
        .map_err(pg_error)
}

/// Runs `f` where the blocking client may run: in place when the caller is outside any tokio
/// runtime, else on a worker thread while the caller waits.
///
/// The workers persist (a thread per call cost a thread's creation and several context
/// switches per statement batch). A worker is added whenever a job finds none idle, so a job
/// never waits behind another (jobs may block on the pool or on locks); their number is the
/// most calls ever in flight at once, which the callers' threads bound.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    workers().run(f)
}

/// A job for a worker, its borrows' lifetime erased (see [`Workers::run`]).
type Job = Box<dyn FnOnce() + Send + 'static>;

/// The persistent threads [`off_runtime`] hands its calls to.
struct Workers {
    state: Mutex<WorkerState>,
    ready: Condvar,
}

struct WorkerState {
    jobs: VecDeque<Job>,
    /// Workers waiting for a job.
    idle: usize,
}

fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| Workers {
        state: Mutex::new(WorkerState {
            jobs: VecDeque::new(),
            idle: 0,
        }),
        ready: Condvar::new(),
    })
}

impl Workers {
    /// Runs `f` on a worker and returns its result, or resumes its panic.
    fn run<T: Send>(&'static self, f: impl FnOnce() -> T + Send) -> T {
        let (done, outcome) = std::sync::mpsc::sync_channel(1);
        let job: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            // The caller is waiting on the other end until this send.
            let _ = done.send(result);
        });
        // SAFETY: the job may borrow from this caller's frame, which must outlive it. This
        // function returns (or unwinds) only after receiving the job's result, which the
        // job sends as its last step, after `f` and everything it borrowed are done with:
        // what is dropped after the send is the sender alone, which owns its data. A job is
        // never dropped unrun: workers never stop, and `f`'s panic is caught inside the job.
        // Should the result never come, the process aborts rather than return.
        let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
        let mut state = lock_workers(&self.state);
        state.jobs.push_back(job);
        if state.idle > 0 {
            // An idle worker is as good as taken by this job: the next job counts on another.
            state.idle -= 1;
            drop(state);
            self.ready.notify_one();
        } else {
            drop(state);
            let spawned = std::thread::Builder::new()
                .name("pg-worker".into())
                .spawn(move || self.serve());
            if spawned.is_err() {
                // Without a worker the job would never run, and the caller's borrows could
                // not be released safely.
                eprintln!("cannot start a PostgreSQL worker thread");
                std::process::abort();
            }
        }
        match outcome.recv() {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => std::process::abort(),
        }
    }

    /// A worker's loop: takes a job, runs it, and waits for the next, for ever. `idle` counts
    /// the workers free for a job not yet queued: every queued job has a free worker of its
    /// own (an idle one it took, or one started for it), so no job waits behind another.
    fn serve(&self) {
        let mut state = lock_workers(&self.state);
        loop {
            match state.jobs.pop_front() {
                Some(job) => {
                    let more = !state.jobs.is_empty();
                    drop(state);
                    if more {
                        self.ready.notify_one();
                    }
                    job();
                    state = lock_workers(&self.state);
                    state.idle += 1;
                }
                None => {
                    state = self
                        .ready
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
        }
    }
}

fn lock_workers(m: &Mutex<WorkerState>) -> std::sync::MutexGuard<'_, WorkerState> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A checked-out connection, returned to the pool when dropped — also when the closure using
/// it panicked: the connection is then closed (it may be in the middle of a transaction) and
/// its place freed, so a panic never shrinks the pool.
struct Lent<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if std::thread::panicking() {
            drop(conn);
            lock(&self.pool.state).open -= 1;
            self.pool.freed.notify_one();
        } else {
            self.pool.checkin(conn);
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

    /// From inside a runtime, a call runs on a worker thread (not the caller's), may borrow
    /// and change the caller's data, and a panic in it reaches the caller; calls made at
    /// once from several threads all finish (none waits behind another for ever).
    #[test]
    fn calls_from_a_runtime_run_on_workers_with_borrows_and_panics() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let caller = std::thread::current().id();
            let mut seen = Vec::new();
            let ran_on = off_runtime(|| {
                seen.push(1);
                std::thread::current().id()
            });
            assert_ne!(ran_on, caller);
            assert_eq!(seen, [1]);
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                off_runtime(|| panic!("test panic in a worker"))
            }));
            assert!(panicked.is_err());
            // The worker survived its job's panic: the next call still runs.
            assert_eq!(off_runtime(|| 2 + 2), 4);
        });
        // Eight callers, each in its own runtime, each call waiting for all eight to have
        // started: this finishes only if every call got a worker of its own.
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for i in 0..8u64 {
                let barrier = &barrier;
                s.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("a runtime");
                    let got = runtime.block_on(async {
                        off_runtime(|| {
                            barrier.wait();
                            i * 10
                        })
                    });
                    assert_eq!(got, i * 10);
                });
            }
        });
    }

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
