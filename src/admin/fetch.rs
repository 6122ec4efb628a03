//! The `source` (MultiPOP) and `domainpop` (DomainPOP) commands: their option values,
//! checked when a line is parsed, and their store-level execution. Running a source needs
//! the live server (`admin::socket`).

use std::fmt::Write as _;

use crate::fetch::recipients::{check_entry, DEFAULT_HEADERS};
use crate::storage::{
    DomainPop, FetchProtocol, FetchSource, FetchStatus, SourceId, SourceOwner, Store, TlsMode,
    UnknownTarget,
};

/// Default seconds between runs.
pub const DEFAULT_INTERVAL: u64 = 300;
/// Default duplicate-suppression window of DomainPOP (a day).
pub const DEFAULT_DEDUP_WINDOW: u64 = 86_400;

/// Where and how to fetch, as given on a command line (defaults applied, so that a parsed
/// command prints back to the same words). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceSpec {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub verify_cert: bool,
    pub user: String,
    pub password: String,
    pub protocol: FetchProtocol,
    pub delete: bool,
    pub interval: u64,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::join_words(&self.words(true)))
    }
}

/// DomainPOP's extra settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainPopSpec {
    pub headers: Vec<String>,
    /// An account address, or `bad` for the bad queue.
    pub unknown: String,
    /// `None`: off.
    pub dedup: Option<u64>,
    pub raw_copy: Option<String>,
}

/// Reads the source options; `flag` gives an option's value ("" for a switch).
pub(crate) fn source_spec<'a>(
    flag: impl Fn(&str) -> Option<&'a str>,
) -> Result<SourceSpec, String> {
    let protocol = match flag("--protocol") {
        None => FetchProtocol::Pop3,
        Some(p) => FetchProtocol::parse(p)
            .ok_or_else(|| format!("unknown protocol '{p}' (pop3 or imap)"))?,
    };
    let tls = match flag("--tls") {
        None => TlsMode::Implicit,
        Some(t) => TlsMode::parse(t)
            .ok_or_else(|| format!("unknown TLS mode '{t}' (none, starttls or implicit)"))?,
    };
    let port = match flag("--port") {
        None => protocol.default_port(tls),
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("bad port '{p}' (1 to 65535)"))?,
    };
    let interval = match flag("--interval") {
        None => DEFAULT_INTERVAL,
        Some(i) => i
            .parse::<u64>()
            .ok()
            .filter(|i| *i > 0)
            .ok_or_else(|| format!("bad interval '{i}' (seconds, at least 1)"))?,
    };
    let host = flag("--host").unwrap_or_default().to_string();
    if host.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
        return Err(format!("'{host}' is not a host name or address"));
    }
    let user = flag("--user").unwrap_or_default().to_string();
    let password = flag("--password").unwrap_or_default().to_string();
    if user.contains(['\r', '\n', '\0']) || password.contains(['\r', '\n', '\0']) {
        return Err("user and password cannot contain line breaks".into());
    }
    Ok(SourceSpec {
        host,
        port,
        tls,
        verify_cert: flag("--no-verify").is_none(),
        user,
        password,
        protocol,
        delete: flag("--delete").is_some(),
        interval,
    })
}

/// Reads the DomainPOP options for `domain`.
pub(crate) fn domainpop_spec<'a>(
    domain: &str,
    flag: impl Fn(&str) -> Option<&'a str>,
) -> Result<DomainPopSpec, String> {
    let headers: Vec<String> = match flag("--headers") {
        None => DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect(),
        Some(list) => list
            .split(',')
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect(),
    };
    if headers.is_empty() {
        return Err("--headers names no header".into());
    }
    for h in &headers {
        check_entry(h)?;
    }
    let unknown = match flag("--unknown") {
        None => format!("postmaster@{domain}"),
        Some(u) if u.eq_ignore_ascii_case("bad") => "bad".to_string(),
        Some(u)
            if u.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()) =>
        {
            u.to_ascii_lowercase()
        }
        Some(u) => {
            return Err(format!(
                "--unknown '{u}': expected an account address or 'bad'"
            ))
        }
    };
    let dedup = match flag("--dedup") {
        None => Some(DEFAULT_DEDUP_WINDOW),
        Some(d) if d.eq_ignore_ascii_case("off") => None,
        Some(d) => Some(
            d.parse::<u64>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| format!("--dedup '{d}': seconds, or 'off'"))?,
        ),
    };
    let raw_copy = flag("--raw-copy").map(str::to_string);
    if let Some(f) = &raw_copy {
        let bad = f.starts_with('/')
            || f.split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
            || f.chars().any(char::is_control);
        if bad {
            return Err(format!(
                "--raw-copy '{f}': a folder name inside the data directory (no '..', not absolute)"
            ));
        }
    }
    Ok(DomainPopSpec {
        headers,
        unknown,
        dedup,
        raw_copy,
    })
}

impl SourceSpec {
    /// The options as words (the password in clear unless `redact`).
    pub(crate) fn words(&self, redact: bool) -> Vec<String> {
        let mut w = vec![
            "--host".to_string(),
            self.host.clone(),
            "--user".into(),
            self.user.clone(),
            "--password".into(),
            if redact {
                "<redacted>".into()
            } else {
                self.password.clone()
            },
            "--protocol".into(),
            self.protocol.as_str().into(),
            "--port".into(),
            self.port.to_string(),
            "--tls".into(),
            self.tls.as_str().into(),
            "--interval".into(),
            self.interval.to_string(),
        ];
        if !self.verify_cert {
            w.push("--no-verify".into());
        }
        if self.delete {
            w.push("--delete".into());
        }
        w
    }
}

impl DomainPopSpec {
    pub(crate) fn words(&self) -> Vec<String> {
        let mut w = vec![
            "--headers".to_string(),
            self.headers.join(","),
            "--unknown".into(),
            self.unknown.clone(),
            "--dedup".into(),
            self.dedup.map_or("off".to_string(), |d| d.to_string()),
        ];
        if let Some(f) = &self.raw_copy {
            w.push("--raw-copy".into());
            w.push(f.clone());
        }
        w
    }
}

fn s(e: crate::storage::StorageError) -> String {
    e.to_string()
}

fn new_source(store: &Store, owner: SourceOwner, spec: &SourceSpec) -> Result<FetchSource, String> {
    Ok(FetchSource {
        id: 0,
        owner,
        protocol: spec.protocol,
        host: spec.host.clone(),
        port: spec.port,
        tls: spec.tls,
        verify_cert: spec.verify_cert,
        user: spec.user.clone(),
        password: store.seal_secret(&spec.password).map_err(s)?,
        leave_on_server: !spec.delete,
        interval: spec.interval,
        domainpop: None,
    })
}

/// `source add`: the account must exist. Returns the message and the new id.
pub fn source_add(
    store: &Store,
    account: &str,
    spec: &SourceSpec,
) -> Result<(String, SourceId), String> {
    let account = account.to_ascii_lowercase();
    if store.get_account(&account).map_err(s)?.is_none() {
        return Err(format!("no account {account}"));
    }
    let source = new_source(store, SourceOwner::Account(account.clone()), spec)?;
    let source = store.fetch_add_source(source).map_err(s)?;
    commit(store)?;
    Ok((
        format!(
            "source {} added for {account}: {}",
            source.id,
            describe(&source)
        ),
        source.id,
    ))
}

/// `domainpop set`: the domain must be local. Returns the message and the source id.
pub fn domainpop_set(
    store: &Store,
    domain: &str,
    spec: &SourceSpec,
    dp: &DomainPopSpec,
) -> Result<(String, SourceId), String> {
    let domain = domain.to_ascii_lowercase();
    if !store.is_local_domain(&domain).map_err(s)? {
        return Err(format!("{domain} is not a local domain"));
    }
    let mut source = new_source(store, SourceOwner::Domain(domain.clone()), spec)?;
    source.domainpop = Some(DomainPop {
        headers: dp.headers.clone(),
        unknown: if dp.unknown == "bad" {
            UnknownTarget::BadQueue
        } else {
            UnknownTarget::Account(dp.unknown.clone())
        },
        dedup_window: dp.dedup,
        raw_copy: dp.raw_copy.clone(),
    });
    let source = store.fetch_set_domainpop(source).map_err(s)?;
    commit(store)?;
    Ok((
        format!(
            "DomainPOP for {domain} set (source {}): {}",
            source.id,
            describe(&source)
        ),
        source.id,
    ))
}

/// The DomainPOP source of `domain`.
pub fn domainpop_source(store: &Store, domain: &str) -> Result<FetchSource, String> {
    store
        .fetch_domainpop(domain)
        .map_err(s)?
        .ok_or_else(|| format!("no DomainPOP for {domain}"))
}

/// `source passwd`: seals the new password and writes it in place; the fetcher reads the
/// source afresh at its next run, so nothing else needs telling.
pub fn source_passwd(store: &Store, id: SourceId, password: &str) -> Result<String, String> {
    if password.contains(['\r', '\n', '\0']) {
        return Err("the password cannot contain line breaks".into());
    }
    let mut source = store
        .fetch_source(id)
        .map_err(s)?
        .ok_or_else(|| format!("no source {id} (see `source list`)"))?;
    source.password = store.seal_secret(password).map_err(s)?;
    store.fetch_update_source(source).map_err(s)?;
    commit(store)?;
    Ok(format!("source {id}: password changed"))
}

pub fn source_del(store: &Store, id: SourceId) -> Result<String, String> {
    let source = store.fetch_del_source(id).map_err(s)?;
    commit(store)?;
    Ok(format!("source {id} ({}) deleted", source.owner.name()))
}

/// "imap://user@host:port (implicit TLS, leave on server, every 300 s)".
pub fn describe(source: &FetchSource) -> String {
    format!(
        "{}://{}@{}:{} ({} TLS{}, {}, every {} s)",
        source.protocol.as_str(),
        source.user,
        source.host,
        source.port,
        source.tls.as_str(),
        if source.verify_cert {
            ""
        } else {
            ", certificate not verified"
        },
        if source.leave_on_server {
            "leave on server"
        } else {
            "delete after fetching"
        },
        source.interval
    )
}

/// `source list [ACCOUNT]`: MultiPOP sources (all, or one account's).
pub fn source_list(store: &Store, account: Option<&str>) -> Result<String, String> {
    let rows: Vec<String> = store
        .fetch_sources()
        .map_err(s)?
        .into_iter()
        .filter(|src| match (&src.owner, account) {
            (SourceOwner::Account(a), Some(want)) => a.eq_ignore_ascii_case(want),
            (SourceOwner::Account(_), None) => true,
            (SourceOwner::Domain(_), _) => false,
        })
        .map(|src| format!("{:>4}  {}  {}", src.id, src.owner.name(), describe(&src)))
        .collect();
    Ok(if rows.is_empty() {
        "no sources".into()
    } else {
        rows.join("\n")
    })
}

/// `domainpop show DOMAIN`.
pub fn domainpop_show(store: &Store, domain: &str) -> Result<String, String> {
    let src = domainpop_source(store, domain)?;
    let mut out = format!("source {}: {}\n", src.id, describe(&src));
    if let Some(dp) = &src.domainpop {
        let _ = writeln!(out, "recipient headers: {}", dp.headers.join(", "));
        let _ = writeln!(
            out,
            "unknown recipients: {}",
            match &dp.unknown {
                UnknownTarget::Account(a) => a.clone(),
                UnknownTarget::BadQueue => "bad queue".into(),
            }
        );
        let _ = writeln!(
            out,
            "duplicate suppression: {}",
            dp.dedup_window
                .map_or("off".into(), |w| format!("by Message-ID, {w} s"))
        );
        if let Some(f) = &dp.raw_copy {
            let _ = writeln!(out, "raw copies: <data_dir>/{f}");
        }
    }
    out.push_str(&status_lines(
        &store.fetch_status(src.id).map_err(s)?,
        false,
    ));
    Ok(out.trim_end().to_string())
}

fn when(t: Option<i64>) -> String {
    t.map_or("never".into(), crate::clock::iso8601)
}

/// The status block of one source.
pub fn status_lines(st: &FetchStatus, running: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "last run: {}{}",
        when(st.last_run),
        if running { " (running now)" } else { "" }
    );
    let _ = writeln!(out, "last success: {}", when(st.last_success));
    let _ = writeln!(
        out,
        "fetched: {} last run, {} in all; deleted on the server: {}",
        st.last_fetched, st.total_fetched, st.total_deleted
    );
    let _ = writeln!(out, "next run: {}", when(st.next_run));
    let _ = writeln!(
        out,
        "last error: {}{}",
        st.last_error.as_deref().unwrap_or("none"),
        if st.failures > 0 {
            format!(" ({} failed run(s) in a row)", st.failures)
        } else {
            String::new()
        }
    );
    out
}

/// `source status [ID]`: every source (MultiPOP and DomainPOP), or one.
pub fn source_status(
    store: &Store,
    id: Option<SourceId>,
    running: &dyn Fn(SourceId) -> bool,
) -> Result<String, String> {
    let sources: Vec<FetchSource> = match id {
        Some(id) => vec![store
            .fetch_source(id)
            .map_err(s)?
            .ok_or_else(|| format!("no source {id} (see `source list`)"))?],
        None => store.fetch_sources().map_err(s)?,
    };
    if sources.is_empty() {
        return Ok("no sources".into());
    }
    let mut out = String::new();
    for src in sources {
        let kind = match &src.owner {
            SourceOwner::Account(a) => format!("MultiPOP for {a}"),
            SourceOwner::Domain(d) => format!("DomainPOP for {d}"),
        };
        let _ = writeln!(out, "source {} ({kind}): {}", src.id, describe(&src));
        let st = store.fetch_status(src.id).map_err(s)?;
        for line in status_lines(&st, running(src.id)).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    Ok(out.trim_end().to_string())
}

/// A one-line summary for `status`.
pub fn summary(store: &Store) -> String {
    let sources = store.fetch_sources().unwrap_or_default();
    let failing = sources
        .iter()
        .filter(|s| store.fetch_status(s.id).is_ok_and(|st| st.failures > 0))
        .count();
    let fetched: u64 = sources
        .iter()
        .filter_map(|s| store.fetch_status(s.id).ok())
        .map(|st| st.total_fetched)
        .sum();
    format!(
        "fetch: {} source(s), {failing} failing, {fetched} message(s) fetched",
        sources.len()
    )
}

fn commit(store: &Store) -> Result<(), String> {
    store.commit().map_err(|e| format!("flush failed: {e}"))
}
