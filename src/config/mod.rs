//! Configuration: the TOML file of docs/architecture.md §5, read into typed, validated values.
//!
//! `config/ferrymail.toml` is the annotated default and is built into the binary
//! ([`DEFAULT_CONFIG`]); every key is documented there. Reading walks the parsed TOML
//! against the schema in [`Config::parse`] and collects *all* problems (unknown keys by full
//! path, wrong types, bad values) into one [`ConfigError`], so a user fixes a file in one go.
//!
//! Resolution rules: relative paths (`data_dir`, `tls.cert`, `tls.key`) are resolved
//! against the config file's folder; an empty `hostname` becomes the machine's hostname;
//! `smtp.drop_connection_size = 0` becomes 3 x `max_message_size`; a `[listeners]` entry
//! that is missing or empty disables that service.

mod delivery;
pub mod effective;
mod http;
mod schema;
mod screening;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use delivery::{Credentials, DeliveryConfig, HostAuth, Relay, Secret, DEFAULT_RETRY_SCHEDULE};
pub use http::HttpConfig;
pub(crate) use schema::parse_duration;
use schema::{Problems, Section};
pub use screening::ScreeningConfig;

/// The annotated default configuration, used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/ferrymail.toml");

/// RFC 5321 §4.5.3.1.8: a server MUST accept at least 100 recipients.
pub const MIN_RECIPIENTS: usize = 100;
/// RFC 5321 §4.5.3.1.4/§4.5.3.1.6: command and text lines of 1000 octets (with CRLF) MUST fit.
pub const MIN_LINE_LENGTH: usize = 1000;

/// The whole server configuration, validated and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub hostname: String,
    /// Absolute when the base directory is (see [`Config::load`]).
    pub data_dir: PathBuf,
    pub listeners: Listeners,
    pub tls: TlsConfig,
    pub dns: DnsConfig,
    pub smtp: SmtpConfig,
    pub imap: ImapConfig,
    pub pop3: Pop3Config,
    pub queue: QueueConfig,
    pub delivery: DeliveryConfig,
    pub server: ServerConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub fetch: FetchConfig,
    pub screening: ScreeningConfig,
    pub http: HttpConfig,
    pub storage: StorageConfig,
    /// The file read, or `None` for the embedded default.
    pub source: Option<PathBuf>,
}

/// `[storage]`: which backend keeps the index, and where bodies live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// `blobs`: the body directory (every node of a cluster mounts the same one); `None`:
    /// `data_dir/blobs`. Relative paths are resolved like `data_dir`.
    pub blobs: Option<PathBuf>,
}

/// `[storage] backend`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StorageBackend {
    /// The embedded index in `data_dir/db` (one process).
    #[default]
    Sled,
    /// A PostgreSQL(-compatible) database shared by every node.
    Postgres(PostgresConfig),
}

/// The PostgreSQL settings of `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `url`: `postgresql://user[:password]@host[:port]/db[?sslmode=require]`, or a key=value
    /// connection string (`host=/run/postgresql dbname=mail`: a Unix socket directory).
    pub url: String,
    /// `schema`: the PostgreSQL schema holding the tables (default `public`).
    pub schema: String,
    /// `pool_size`: connections this node keeps at most.
    pub pool_size: usize,
    /// `statement_timeout`: a statement running longer is cancelled (and its operation fails).
    pub statement_timeout: Duration,
    /// `node`: this node's name in the cluster (default: the hostname).
    pub node: String,
    /// `lease`: how long a queue record claimed by a node stays its own without a heartbeat;
    /// a node that dies leaves its records to another node after this.
    pub lease: Duration,
    /// `poll_interval`: how often a node looks for other nodes' changes when no notification
    /// arrives (the only way on databases without LISTEN, such as CockroachDB).
    pub poll_interval: Duration,
}

/// One address per service; `None` = disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listeners {
    pub smtp: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub smtps: Option<SocketAddr>,
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    pub odmr: Option<SocketAddr>,
    /// UDP.
    pub minger: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    /// The web front over TLS (webmail, DAV, ActiveSync to come).
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

/// Service names as in docs/architecture.md §5, in the order of the file.
pub const SERVICES: [&str; 12] = [
    "smtp",
    "submission",
    "smtps",
    "pop3",
    "pop3s",
    "imap",
    "imaps",
    "odmr",
    "minger",
    "http",
    "https",
    "admin",
];

impl Listeners {
    fn all(&self) -> [Option<SocketAddr>; 12] {
        [
            self.smtp,
            self.submission,
            self.smtps,
            self.pop3,
            self.pop3s,
            self.imap,
            self.imaps,
            self.odmr,
            self.minger,
            self.http,
            self.https,
            self.admin,
        ]
    }

    fn slot(&mut self, service: &str) -> Option<&mut Option<SocketAddr>> {
        Some(match service {
            "smtp" => &mut self.smtp,
            "submission" => &mut self.submission,
            "smtps" => &mut self.smtps,
            "pop3" => &mut self.pop3,
            "pop3s" => &mut self.pop3s,
            "imap" => &mut self.imap,
            "imaps" => &mut self.imaps,
            "odmr" => &mut self.odmr,
            "minger" => &mut self.minger,
            "http" => &mut self.http,
            "https" => &mut self.https,
            "admin" => &mut self.admin,
            _ => return None,
        })
    }

    /// The enabled services, `(name, address)`, in the order of [`SERVICES`].
    pub fn iter(&self) -> Vec<(&'static str, SocketAddr)> {
        SERVICES
            .iter()
            .zip(self.all())
            .filter_map(|(name, addr)| addr.map(|a| (*name, a)))
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain; `None`: self-signed in `data_dir/certs`.
    pub cert: Option<PathBuf>,
    /// PEM private key; set exactly when `cert` is.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsConfig {
    /// Empty: the system resolver.
    pub nameservers: Vec<SocketAddr>,
    /// Trust the AD bit (RFC 4035 §3.2.3) in answers of `nameservers`: they are validating
    /// resolvers on a trusted path. DANE (RFC 7672) is used only then.
    pub trust_ad: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub max_message_size: u64,
    /// Already resolved: never 0.
    pub drop_connection_size: u64,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub auth_on_smtp_port: bool,
    pub allow_plaintext_auth: bool,
    pub max_line_length: usize,
}

/// `[imap]`: limits and timeouts of the IMAP listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Autologout of an authenticated session (RFC 9051 §5.4: at least 30 minutes).
    pub idle_timeout: Duration,
    /// The login must be done this long after connecting (a whole-unit deadline).
    pub login_timeout: Duration,
    /// A literal must arrive whole this long after it starts (a whole-unit deadline).
    pub literal_timeout: Duration,
    /// A client that takes none of our output for this long is disconnected.
    pub output_timeout: Duration,
    /// LOGIN/AUTHENTICATE without TLS from loopback clients (otherwise LOGINDISABLED until
    /// STARTTLS; remote clients always need TLS).
    pub allow_plaintext_login: bool,
    /// APPENDLIMIT (RFC 7889), bytes.
    pub append_limit: u64,
    pub max_line_length: usize,
    /// Offer UNAUTHENTICATE (RFC 8437).
    pub unauthenticate: bool,
}

/// `[pop3]`: limits and timeouts of the POP3 listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Config {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Autologout of an authenticated session (RFC 1939 §3: at least 10 minutes).
    pub idle_timeout: Duration,
    /// Autologout before login.
    pub login_timeout: Duration,
    /// A client that takes none of our output for this long is disconnected.
    pub output_timeout: Duration,
    /// USER/PASS and AUTH without TLS from loopback clients (remote clients always need
    /// TLS: STLS or pop3s).
    pub allow_plaintext_login: bool,
}

/// RFC 1939 §3: "an autologout timer ... of at least 10 minutes".
pub const MIN_POP3_IDLE_TIMEOUT: u64 = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub deferred_check_interval: Duration,
    pub local_retry_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub level: String,
    pub file_logging: bool,
}

/// `[auth]`: checks of mail arriving on the smtp port (SPF, DKIM, DMARC, ARC), and how long
/// verified logins are remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Check mail from other servers and add an Authentication-Results header.
    pub verify: bool,
    /// Apply the sender domain's DMARC policy (reject, quarantine) or only record it.
    pub dmarc_policy: DmarcEnforcement,
    /// Longest wait for one DNS answer.
    pub dns_timeout: Duration,
    /// Longest time all checks of one message may take; what is not done by then is
    /// `temperror`.
    pub verify_timeout: Duration,
    /// Client networks whose mail is not checked (local relays, scripts on this machine).
    pub trusted_networks: Vec<Network>,
    /// How long a verified login is remembered in memory, so that a returning client skips
    /// argon2 (`actors::credential_cache`); zero turns the cache off.
    pub credential_cache_ttl: Duration,
}

/// An IP network in CIDR form, e.g. `127.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl Network {
    /// Parses `ip/prefix` or a bare `ip` (a single host).
    pub fn parse(s: &str) -> Option<Network> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (
                ip.parse::<std::net::IpAddr>().ok()?,
                Some(p.parse::<u8>().ok()?),
            ),
            None => (s.parse().ok()?, None),
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { addr: ip, prefix })
    }

    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// What to do with a message whose DMARC check fails under a reject or quarantine policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcEnforcement {
    /// Reject with 550 5.7.1 / deliver to Junk, as the domain asks.
    Enforce,
    /// Deliver normally; the result is only in Authentication-Results.
    Off,
}

/// `[fetch]`: global limits of MultiPOP and DomainPOP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    pub max_concurrent: usize,
    pub min_interval: Duration,
    pub timeout: Duration,
    pub max_message_size: u64,
    pub max_backoff: Duration,
}

/// Everything wrong with one config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file's path, or `<built-in default>`.
    pub file: String,
    /// `"<key path>: <what>"` each.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "config {}: {n} problem{}:",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

const EMBEDDED: &str = "<built-in default>";

fn file_label(source: Option<&Path>) -> String {
    source.map_or_else(|| EMBEDDED.to_string(), |p| p.display().to_string())
}

impl Config {
    /// Reads `path`, or the embedded default when `None` (paths then resolve against the
    /// current directory).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let one = |problem: String| ConfigError {
            file: file_label(path),
            problems: vec![problem],
        };
        let cwd = std::env::current_dir()
            .map_err(|e| one(format!("cannot determine the current directory: {e}")))?;
        let Some(path) = path else {
            return Config::parse(DEFAULT_CONFIG, &cwd, None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| one(format!("cannot read: {e}")))?;
        let base = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => cwd.join(dir),
            _ => cwd,
        };
        Config::parse(&text, &base, Some(path.to_path_buf()))
    }

    /// Parses config text; relative paths resolve against `base_dir`.
    pub fn parse(
        text: &str,
        base_dir: &Path,
        source: Option<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let fail = |problems: Vec<String>| ConfigError {
            file: file_label(source.as_deref()),
            problems,
        };
        let table: toml::Table =
            toml::from_str(text).map_err(|e| fail(vec![syntax_problem(text, &e)]))?;
        let mut p = Problems::default();
        let mut root = Section::root(table);
        let config = read_root(&mut root, base_dir, source.clone(), &mut p);
        root.finish(&mut p);
        if p.0.is_empty() {
            Ok(config)
        } else {
            Err(fail(p.0))
        }
    }
}

/// "line N, column M: <message>" for a TOML syntax error.
fn syntax_problem(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => format!("syntax error: {message}"),
    }
}

fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    base_dir.join(path)
}

fn read_root(
    root: &mut Section,
    base_dir: &Path,
    source: Option<PathBuf>,
    p: &mut Problems,
) -> Config {
    let hostname = root.string("hostname", "", p).trim().to_string();
    if let Some(bad) = hostname
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        p.add("hostname", format!("{hostname:?} contains {bad:?}"));
    }
    let hostname = if hostname.is_empty() {
        machine_hostname()
    } else {
        hostname
    };
    let data_dir = root.string("data_dir", "data", p);
    if data_dir.trim().is_empty() {
        p.add("data_dir", "must not be empty");
    }

    let mut s = root.section("listeners", p);
    let listeners = read_listeners(&mut s, p);
    s.finish(p);
    let mut s = root.section("tls", p);
    let tls = read_tls(&mut s, base_dir, p);
    s.finish(p);
    let mut s = root.section("dns", p);
    let dns = DnsConfig {
        nameservers: s.addresses("nameservers", 53, p),
        trust_ad: s.boolean("trust_ad", false, p),
    };
    if dns.trust_ad && dns.nameservers.is_empty() {
        p.add(
            "dns.trust_ad",
            "needs nameservers: the AD bit of the system resolver is not trusted",
        );
    }
    s.finish(p);
    let mut s = root.section("smtp", p);
    let smtp = read_smtp(&mut s, p);
    s.finish(p);
    let mut s = root.section("imap", p);
    let idle = s.uint("idle_timeout", 1800, 1800, p);
    let imap = ImapConfig {
        max_connections: s.count("max_connections", 20_000, 1, p),
        max_connections_per_ip: s.count("max_connections_per_ip", 50, 1, p),
        idle_timeout: secs(idle),
        login_timeout: secs(s.uint("login_timeout", 60, 1, p)),
        literal_timeout: secs(s.uint("literal_timeout", 1200, 1, p)),
        output_timeout: secs(s.uint("output_timeout", 600, 1, p)),
        allow_plaintext_login: s.boolean("allow_plaintext_login", false, p),
        append_limit: s.uint("append_limit", 52_428_800, 1024, p),
        max_line_length: s.count("max_line_length", 65_536, 1000, p),
        unauthenticate: s.boolean("unauthenticate", true, p),
    };
    s.finish(p);
    let mut s = root.section("pop3", p);
    let pop3 = Pop3Config {
        max_connections: s.count("max_connections", 2000, 1, p),
        max_connections_per_ip: s.count("max_connections_per_ip", 10, 1, p),
        idle_timeout: secs(s.uint("idle_timeout", 600, MIN_POP3_IDLE_TIMEOUT, p)),
        login_timeout: secs(s.uint("login_timeout", 60, 1, p)),
        output_timeout: secs(s.uint("output_timeout", 600, 1, p)),
        allow_plaintext_login: s.boolean("allow_plaintext_login", false, p),
    };
    s.finish(p);
    let mut s = root.section("queue", p);
    let queue = QueueConfig {
        deferred_check_interval: secs(s.uint("deferred_check_interval", 60, 1, p)),
        local_retry_interval: secs(s.uint("local_retry_interval", 30, 1, p)),
    };
    s.finish(p);
    let mut s = root.section("delivery", p);
    let delivery = delivery::read_delivery(&mut s, base_dir, p);
    s.finish(p);
    let mut s = root.section("server", p);
    let server = ServerConfig {
        shutdown_grace: secs(s.uint("shutdown_grace", 30, 0, p)),
    };
    s.finish(p);
    let mut s = root.section("log", p);
    let log = LogConfig {
        level: s.string("level", "info", p),
        file_logging: s.boolean("file_logging", false, p),
    };
    if log.level.trim().is_empty() {
        p.add("log.level", "must not be empty (e.g. \"info\")");
    }
    s.finish(p);
    let mut s = root.section("auth", p);
    let auth = read_auth(&mut s, p);
    let mut s = root.section("fetch", p);
    let fetch = FetchConfig {
        max_concurrent: s.count("max_concurrent", 4, 1, p),
        min_interval: secs(s.uint("min_interval", 60, 1, p)),
        timeout: secs(s.uint("timeout", 60, 1, p)),
        max_message_size: s.uint("max_message_size", 52_428_800, 1024, p),
        max_backoff: secs(s.uint("max_backoff", 3600, 1, p)),
    };
    s.finish(p);
    let mut s = root.section("screening", p);
    let screening = screening::read_screening(&mut s, p);
    s.finish(p);
    let mut s = root.section("http", p);
    let http = http::read_http(&mut s, p);
    s.finish(p);
    let mut s = root.section("storage", p);
    let storage = read_storage(&mut s, base_dir, &hostname, p);
    s.finish(p);

    Config {
        hostname,
        data_dir: resolve(base_dir, &data_dir),
        listeners,
        tls,
        dns,
        smtp,
        imap,
        pop3,
        queue,
        delivery,
        server,
        log,
        auth,
        fetch,
        screening,
        http,
        storage,
        source,
    }
}

fn read_storage(
    s: &mut Section,
    base_dir: &Path,
    hostname: &str,
    p: &mut Problems,
) -> StorageConfig {
    let backend = s.string("backend", "sled", p);
    let url = s.string("url", "", p);
    let schema = s.string("schema", "public", p);
    let pool_size = s.count("pool_size", 16, 1, p);
    let statement_timeout = s.duration(
        "statement_timeout",
        Duration::from_secs(30),
        Duration::from_secs(1),
        p,
    );
    let node = s.string("node", "", p).trim().to_string();
    let node = if node.is_empty() {
        hostname.to_string()
    } else {
        node
    };
    let lease = s.duration("lease", Duration::from_secs(60), Duration::from_secs(1), p);
    let poll_interval = s.duration(
        "poll_interval",
        Duration::from_secs(5),
        Duration::from_secs(1),
        p,
    );
    let blobs = s.string("blobs", "", p);
    let blobs = (!blobs.trim().is_empty()).then(|| resolve(base_dir, &blobs));
    let backend = match backend.trim().to_ascii_lowercase().as_str() {
        "sled" => StorageBackend::Sled,
        "postgres" | "postgresql" => {
            if url.trim().is_empty() {
                p.add("storage.url", "is required with backend = \"postgres\"");
            }
            if schema.trim().is_empty() {
                p.add("storage.schema", "must not be empty");
            }
            StorageBackend::Postgres(PostgresConfig {
                url,
                schema,
                pool_size,
                statement_timeout,
                node,
                lease,
                poll_interval,
            })
        }
        other => {
            p.add(
                "storage.backend",
                format!("unknown backend {other:?} (expected \"sled\" or \"postgres\")"),
            );
            StorageBackend::Sled
        }
    };
    StorageConfig { backend, blobs }
}

fn read_auth(s: &mut Section, p: &mut Problems) -> AuthConfig {
    let policy = s.string("dmarc_policy", "enforce", p);
    let dmarc_policy = match policy.trim().to_ascii_lowercase().as_str() {
        "enforce" => DmarcEnforcement::Enforce,
        "off" => DmarcEnforcement::Off,
        other => {
            p.add(
                &s.path("dmarc_policy"),
                format!("{other:?} is not \"enforce\" or \"off\""),
            );
            DmarcEnforcement::Enforce
        }
    };
    let dns_timeout = s.uint("dns_timeout", 5, 1, p);
    let verify_timeout = s.uint("verify_timeout", 30, 1, p);
    if verify_timeout < dns_timeout {
        p.add(
            &s.path("verify_timeout"),
            format!("{verify_timeout} is shorter than dns_timeout ({dns_timeout})"),
        );
    }
    AuthConfig {
        verify: s.boolean("verify", true, p),
        dmarc_policy,
        dns_timeout: secs(dns_timeout),
        verify_timeout: secs(verify_timeout),
        trusted_networks: read_networks(s, "trusted_networks", &["127.0.0.0/8", "::1/128"], p),
        credential_cache_ttl: secs(s.uint("credential_cache_ttl", 300, 0, p)),
    }
}

/// A list of CIDR networks; `default` when the key is absent.
fn read_networks(s: &mut Section, key: &str, default: &[&str], p: &mut Problems) -> Vec<Network> {
    let path = s.path(key);
    let Some(items) = s.strings(key, p) else {
        return default.iter().filter_map(|n| Network::parse(n)).collect();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match Network::parse(item.trim()) {
            Some(n) => out.push(n),
            None => p.add(
                &format!("{path}[{i}]"),
                format!("invalid network {item:?} (expected \"ip/prefix\" or \"ip\")"),
            ),
        }
    }
    out
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn read_listeners(s: &mut Section, p: &mut Problems) -> Listeners {
    let mut l = Listeners::default();
    // (address, service) of TCP listeners seen so far, to catch two services on one port.
    let mut seen: Vec<(SocketAddr, &str)> = Vec::new();
    for service in SERVICES {
        let addr = s.listener(service, p);
        if let Some(a) = addr {
            // minger is UDP and may share a port number with a TCP service.
            if a.port() != 0 && service != "minger" {
                if let Some((_, other)) = seen.iter().find(|(b, _)| *b == a) {
                    p.add(
                        &s.path(service),
                        format!("{a} is also used by listeners.{other}"),
                    );
                }
                seen.push((a, service));
            }
        }
        if let Some(slot) = l.slot(service) {
            *slot = addr;
        }
    }
    l
}

fn read_tls(s: &mut Section, base_dir: &Path, p: &mut Problems) -> TlsConfig {
    let mut path = |key: &str| {
        let v = s.string(key, "", p);
        let v = v.trim();
        (!v.is_empty()).then(|| resolve(base_dir, v))
    };
    let tls = TlsConfig {
        cert: path("cert"),
        key: path("key"),
    };
    if tls.cert.is_some() != tls.key.is_some() {
        p.add(
            "tls",
            "cert and key must be set together (or both left empty)",
        );
    }
    tls
}

fn read_smtp(s: &mut Section, p: &mut Problems) -> SmtpConfig {
    let max_message_size = s.uint("max_message_size", 26_214_400, 1, p);
    let drop = s.uint("drop_connection_size", 0, 0, p);
    let drop_connection_size = if drop == 0 {
        max_message_size.saturating_mul(3)
    } else {
        if drop < max_message_size {
            p.add(
                "smtp.drop_connection_size",
                format!("{drop} is smaller than max_message_size ({max_message_size}); use 0 for 3 x max_message_size"),
            );
        }
        drop
    };
    SmtpConfig {
        max_message_size,
        drop_connection_size,
        max_recipients: s.count("max_recipients", 1000, MIN_RECIPIENTS, p),
        max_connections: s.count("max_connections", 2000, 1, p),
        max_connections_per_ip: s.count("max_connections_per_ip", 20, 1, p),
        command_timeout: secs(s.uint("command_timeout", 300, 1, p)),
        data_timeout: secs(s.uint("data_timeout", 600, 1, p)),
        auth_on_smtp_port: s.boolean("auth_on_smtp_port", false, p),
        allow_plaintext_auth: s.boolean("allow_plaintext_auth", false, p),
        max_line_length: s.count("max_line_length", 4096, MIN_LINE_LENGTH, p),
    }
}

/// The machine's hostname: gethostname(2), else /proc, else "localhost".
pub fn machine_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that many.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(name) = std::str::from_utf8(&buf[..end]) {
            if !name.trim().is_empty() {
                return name.trim().to_string();
            }
        }
    }
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ => "localhost".to_string(),
    }
}
