//! The effective configuration: the parsed [`Config`] the server runs with, written back as
//! the TOML file's sections and keys (as JSON), with every secret masked. The dashboard's
//! Settings page and `GET /api/v1/settings` show it, so an operator sees what is in force —
//! defaults the file left out, the embedded default when there is no file, resolved values
//! (`hostname`, `data_dir`, `smtp.drop_connection_size`, `storage.node`) — rather than the
//! file's text, which may have changed since the last `reload`.
//!
//! Every struct is taken apart field by field (no `..`), so a new setting does not compile
//! until it is shown here; the tests check that every key of the shipped file is shown and
//! that the view, written back as TOML, parses to the same configuration.
//!
//! Secrets: passwords (`delivery.smarthost_password`, `delivery.host_auth[].password`), the
//! password inside `storage.url` (URL user-info, `?password=` or a `password=` key of a
//! key=value connection string) and the TLS private key's location are replaced by
//! [`MASK`]; an unset one stays `""`. On top of that, any key whose name says secret
//! (`password`, `secret`, `token`, `passphrase`, `private`) is masked wherever it appears.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{
    Config, Credentials, DeliveryConfig, DmarcEnforcement, DnsConfig, FetchConfig, HostAuth,
    HttpConfig, ImapConfig, Listeners, LogConfig, Network, Pop3Config, PostgresConfig, QueueConfig,
    Relay, ScreeningConfig, ServerConfig, SmtpConfig, StorageBackend, StorageConfig, TlsConfig,
    SERVICES,
};

/// What a secret is shown as.
pub const MASK: &str = "********";

/// Parts of key names whose values are secrets, whatever section they are in.
const SECRET_NAMES: [&str; 5] = ["password", "secret", "token", "passphrase", "private"];

/// The effective configuration as JSON: one object per TOML section, keys as in the file,
/// secrets masked (module comment).
pub fn effective(c: &Config) -> Value {
    let Config {
        hostname,
        data_dir,
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
        source: _,
    } = c;
    let mut v = json!({
        "hostname": hostname,
        "data_dir": path(data_dir),
        "listeners": listeners_view(listeners),
        "tls": tls_view(tls),
        "dns": dns_view(dns),
        "smtp": smtp_view(smtp),
        "imap": imap_view(imap),
        "pop3": pop3_view(pop3),
        "queue": queue_view(queue),
        "delivery": delivery_view(delivery),
        "server": server_view(server),
        "log": log_view(log),
        "auth": auth_view(auth),
        "fetch": fetch_view(fetch),
        "screening": screening_view(screening),
        "http": http_view(http),
        "storage": storage_view(storage),
    });
    mask_secret_names(&mut v);
    v
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn secs(d: &Duration) -> u64 {
    d.as_secs()
}

/// A duration as the file writes one: the largest unit that divides it (`90s`, `15m`, `4h`,
/// `5d`).
fn span(d: &Duration) -> String {
    let s = d.as_secs();
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s != 0 && s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

fn addr(a: &Option<SocketAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_default()
}

fn networks(ns: &[Network]) -> Vec<String> {
    ns.iter().map(Network::to_string).collect()
}

/// A secret's value as shown: [`MASK`] when set, `""` when not.
fn secret(set: bool) -> &'static str {
    if set {
        MASK
    } else {
        ""
    }
}

fn listeners_view(l: &Listeners) -> Value {
    let Listeners {
        smtp,
        submission,
        smtps,
        pop3,
        pop3s,
        imap,
        imaps,
        odmr,
        minger,
        http,
        https,
        admin,
    } = l;
    let all = [
        smtp, submission, smtps, pop3, pop3s, imap, imaps, odmr, minger, http, https, admin,
    ];
    SERVICES
        .iter()
        .zip(all)
        .map(|(name, a)| (name.to_string(), Value::from(addr(a))))
        .collect::<Map<_, _>>()
        .into()
}

fn tls_view(t: &TlsConfig) -> Value {
    let TlsConfig { cert, key } = t;
    json!({
        "cert": cert.as_deref().map(path).unwrap_or_default(),
        // Where the private key lies is not shown either.
        "key": secret(key.is_some()),
    })
}

fn dns_view(d: &DnsConfig) -> Value {
    let DnsConfig {
        nameservers,
        trust_ad,
    } = d;
    json!({
        "nameservers": nameservers.iter().map(SocketAddr::to_string).collect::<Vec<_>>(),
        "trust_ad": trust_ad,
    })
}

fn smtp_view(s: &SmtpConfig) -> Value {
    let SmtpConfig {
        max_message_size,
        drop_connection_size,
        max_recipients,
        max_connections,
        max_connections_per_ip,
        command_timeout,
        data_timeout,
        auth_on_smtp_port,
        allow_plaintext_auth,
        max_line_length,
    } = s;
    json!({
        "max_message_size": max_message_size,
        "drop_connection_size": drop_connection_size,
        "max_recipients": max_recipients,
        "max_connections": max_connections,
        "max_connections_per_ip": max_connections_per_ip,
        "command_timeout": secs(command_timeout),
        "data_timeout": secs(data_timeout),
        "auth_on_smtp_port": auth_on_smtp_port,
        "allow_plaintext_auth": allow_plaintext_auth,
        "max_line_length": max_line_length,
    })
}

fn imap_view(i: &ImapConfig) -> Value {
    let ImapConfig {
        max_connections,
        max_connections_per_ip,
        idle_timeout,
        login_timeout,
        literal_timeout,
        output_timeout,
        allow_plaintext_login,
        append_limit,
        max_line_length,
        unauthenticate,
    } = i;
    json!({
        "max_connections": max_connections,
        "max_connections_per_ip": max_connections_per_ip,
        "idle_timeout": secs(idle_timeout),
        "login_timeout": secs(login_timeout),
        "literal_timeout": secs(literal_timeout),
        "output_timeout": secs(output_timeout),
        "allow_plaintext_login": allow_plaintext_login,
        "append_limit": append_limit,
        "max_line_length": max_line_length,
        "unauthenticate": unauthenticate,
    })
}

fn pop3_view(p: &Pop3Config) -> Value {
    let Pop3Config {
        max_connections,
        max_connections_per_ip,
        idle_timeout,
        login_timeout,
        output_timeout,
        allow_plaintext_login,
    } = p;
    json!({
        "max_connections": max_connections,
        "max_connections_per_ip": max_connections_per_ip,
        "idle_timeout": secs(idle_timeout),
        "login_timeout": secs(login_timeout),
        "output_timeout": secs(output_timeout),
        "allow_plaintext_login": allow_plaintext_login,
    })
}

fn queue_view(q: &QueueConfig) -> Value {
    let QueueConfig {
        deferred_check_interval,
        local_retry_interval,
    } = q;
    json!({
        "deferred_check_interval": secs(deferred_check_interval),
        "local_retry_interval": secs(local_retry_interval),
    })
}

fn relay(r: &Relay) -> String {
    let Relay { host, port } = r;
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn delivery_view(d: &DeliveryConfig) -> Value {
    let DeliveryConfig {
        smarthost,
        smarthost_auth,
        host_auth,
        max_connections,
        max_connections_per_domain,
        retry_schedule,
        message_lifetime,
        delay_notice,
        port,
        connect_timeout,
        command_timeout,
        data_timeout,
        mta_sts,
        tls_reports,
        https_port,
        test_trust_roots,
    } = d;
    let user = |c: &Option<Credentials>| c.as_ref().map(|c| c.user.clone()).unwrap_or_default();
    let host_auth: Vec<Value> = host_auth
        .iter()
        .map(|HostAuth { host, auth }| {
            let Credentials { user, password } = auth;
            json!({
                "host": host,
                "user": user,
                "password": secret(!password.0.is_empty()),
            })
        })
        .collect();
    let mut v = json!({
        "smarthost": smarthost.as_ref().map(relay).unwrap_or_default(),
        "smarthost_user": user(smarthost_auth),
        "smarthost_password": secret(smarthost_auth.is_some()),
        "max_connections": max_connections,
        "max_connections_per_domain": max_connections_per_domain,
        "retry_schedule": retry_schedule.iter().map(span).collect::<Vec<_>>(),
        "message_lifetime": span(message_lifetime),
        "delay_notice": span(&delay_notice.unwrap_or(Duration::ZERO)),
        "port": port,
        "connect_timeout": span(connect_timeout),
        "command_timeout": span(command_timeout),
        "data_timeout": span(data_timeout),
        "mta_sts": mta_sts,
        "tls_reports": tls_reports,
        "https_port": https_port,
        "test_trust_roots": test_trust_roots.as_deref().map(path).unwrap_or_default(),
    });
    // `[[delivery.host_auth]]` is absent rather than an empty list, as in the file.
    if !host_auth.is_empty() {
        v["host_auth"] = host_auth.into();
    }
    v
}

fn server_view(s: &ServerConfig) -> Value {
    let ServerConfig { shutdown_grace } = s;
    json!({ "shutdown_grace": secs(shutdown_grace) })
}

fn log_view(l: &LogConfig) -> Value {
    let LogConfig {
        level,
        file_logging,
    } = l;
    json!({ "level": level, "file_logging": file_logging })
}

fn auth_view(a: &super::AuthConfig) -> Value {
    let super::AuthConfig {
        verify,
        dmarc_policy,
        dns_timeout,
        verify_timeout,
        trusted_networks,
        credential_cache_ttl,
    } = a;
    json!({
        "verify": verify,
        "dmarc_policy": match dmarc_policy {
            DmarcEnforcement::Enforce => "enforce",
            DmarcEnforcement::Off => "off",
        },
        "dns_timeout": secs(dns_timeout),
        "verify_timeout": secs(verify_timeout),
        "trusted_networks": networks(trusted_networks),
        "credential_cache_ttl": secs(credential_cache_ttl),
    })
}

fn fetch_view(f: &FetchConfig) -> Value {
    let FetchConfig {
        max_concurrent,
        min_interval,
        timeout,
        max_message_size,
        max_backoff,
    } = f;
    json!({
        "max_concurrent": max_concurrent,
        "min_interval": secs(min_interval),
        "timeout": secs(timeout),
        "max_message_size": max_message_size,
        "max_backoff": secs(max_backoff),
    })
}

fn screening_view(s: &ScreeningConfig) -> Value {
    let ScreeningConfig {
        enabled,
        trusted,
        auth_failures,
        account_failures,
        failed_rcpts,
        auth_probes,
        window,
        connections_per_minute,
        ban,
        ban_factor,
        ban_max,
        forget_after,
    } = s;
    json!({
        "enabled": enabled,
        "trusted": networks(trusted),
        "auth_failures": auth_failures,
        "account_failures": account_failures,
        "failed_rcpts": failed_rcpts,
        "auth_probes": auth_probes,
        "window": span(window),
        "connections_per_minute": connections_per_minute,
        "ban": span(ban),
        "ban_factor": ban_factor,
        "ban_max": span(ban_max),
        "forget_after": span(forget_after),
    })
}

fn http_view(h: &HttpConfig) -> Value {
    let HttpConfig {
        allow_plaintext_login,
        session_idle,
        session_max,
        login_failures,
        remember_device_days,
        dav_max_resource_size,
    } = h;
    json!({
        "allow_plaintext_login": allow_plaintext_login,
        "session_idle": span(session_idle),
        "session_max": span(session_max),
        "login_failures": login_failures,
        "remember_device_days": remember_device_days,
        "dav_max_resource_size": dav_max_resource_size,
    })
}

fn storage_view(s: &StorageConfig) -> Value {
    let StorageConfig { backend, blobs } = s;
    let blobs = blobs.as_deref().map(path).unwrap_or_default();
    match backend {
        StorageBackend::Sled => json!({ "backend": "sled", "blobs": blobs }),
        StorageBackend::Postgres(pg) => {
            let PostgresConfig {
                url,
                schema,
                pool_size,
                statement_timeout,
                node,
                lease,
                poll_interval,
            } = pg;
            json!({
                "backend": "postgres",
                "blobs": blobs,
                "url": masked_url(url),
                "schema": schema,
                "pool_size": pool_size,
                "statement_timeout": span(statement_timeout),
                "node": node,
                "lease": span(lease),
                "poll_interval": span(poll_interval),
            })
        }
    }
}

/// A database connection string with its password masked: the password of a URL's
/// user-info, a `password` query parameter, or the `password` key of a key=value string
/// (quoted or not).
pub fn masked_url(url: &str) -> String {
    let url = url.trim();
    if let Some((scheme, rest)) = url.split_once("://") {
        // The user-info ends at an '@' that the client may look for anywhere in the URL
        // (tokio-postgres takes the first, so a password may hold a '/', '?' or '#'; a
        // password may also hold an unescaped '@'): everything up to the LAST '@' is
        // treated as user-info, which can only mask too much, never too little.
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((userinfo, after)) => (Some(userinfo), after),
            None => (None, rest),
        };
        let (host, tail) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = match userinfo {
            Some(userinfo) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:{MASK}@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => host.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((k, _)) if is_secret_name(k) => format!("{k}={MASK}"),
                        _ => pair.to_string(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => tail.to_string(),
        };
        return format!("{scheme}://{authority}{tail}");
    }
    masked_conninfo(url)
}

/// A key=value connection string (`host=… password='a b' dbname=…`) with secret values
/// masked.
fn masked_conninfo(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let Some(eq) = rest.find('=') else {
            out.push_str(rest);
            return out;
        };
        let key_start = rest[..eq]
            .trim_end()
            .rfind(char::is_whitespace)
            .map_or(0, |i| i + 1);
        let key = rest[key_start..eq].trim();
        out.push_str(&rest[..=eq]);
        let after = &rest[eq + 1..];
        let value_start = after.len() - after.trim_start().len();
        let value = &after[value_start..];
        // The value: quoted (with backslash escapes) or up to the next whitespace.
        let len = if let Some(quoted) = value.strip_prefix('\'') {
            let mut end = quoted.len();
            let mut escaped = false;
            for (i, ch) in quoted.char_indices() {
                match ch {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '\'' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            1 + end.min(quoted.len())
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        out.push_str(&after[..value_start]);
        if is_secret_name(key) {
            out.push_str(MASK);
        } else {
            out.push_str(&value[..len]);
        }
        rest = &value[len..];
    }
}

fn is_secret_name(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

/// Masks, anywhere in the tree, the non-empty value of a key whose name says secret.
fn mask_secret_names(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                let empty = matches!(x, Value::String(s) if s.is_empty());
                if is_secret_name(k) && !empty {
                    *x = MASK.into();
                } else {
                    mask_secret_names(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secret_names),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_CONFIG;
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("/etc/ferrymail"), None).expect("config parses")
    }

    /// `section.key` of every key of a TOML table (arrays of tables by their name).
    fn keys(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner) => keys(&name, inner, out),
                _ => out.push(name),
            }
        }
    }

    fn json_keys(prefix: &str, v: &Value, out: &mut Vec<String>) {
        for (k, x) in v.as_object().expect("an object") {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match x {
                Value::Object(_) => json_keys(&name, x, out),
                _ => out.push(name),
            }
        }
    }

    /// The shipped file with a PostgreSQL backend, so that `[storage]` has all its keys.
    fn shipped_on_postgres() -> String {
        DEFAULT_CONFIG
            .replace("backend = \"sled\"", "backend = \"postgres\"")
            .replace("url = \"\"", "url = \"postgresql://fm@db.test/mail\"")
    }

    #[test]
    fn every_key_of_the_shipped_file_is_shown() {
        let text = shipped_on_postgres();
        let mut want = Vec::new();
        keys("", &toml::from_str(&text).unwrap(), &mut want);
        let mut got = Vec::new();
        json_keys("", &effective(&parse(&text)), &mut got);
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }

    /// The view, written back as a TOML file, is the same configuration: every value is
    /// the one in force, in the file's own form.
    #[test]
    fn the_view_read_back_is_the_same_configuration() {
        for text in [
            DEFAULT_CONFIG.to_string(),
            shipped_on_postgres(),
            "hostname = \"mx.test\"\n[listeners]\nsmtp = \"[::1]:2525\"\n\
             [delivery]\nsmarthost = \"[2001:db8::5]:587\"\ndelay_notice = \"0s\"\n\
             retry_schedule = [\"90s\", \"1h\"]\n[dns]\nnameservers = [\"192.0.2.53\"]\n\
             [smtp]\nmax_message_size = 1000\ndrop_connection_size = 0\n"
                .to_string(),
        ] {
            let config = parse(&text);
            let view = effective(&config);
            let back = toml::to_string(&view).expect("the view is TOML");
            let mut again = parse(&back);
            again.source = config.source.clone();
            assert_eq!(again, config, "{back}");
        }
    }

    #[test]
    fn an_empty_file_shows_every_default() {
        let v = effective(&parse(""));
        assert_eq!(v["smtp"]["max_recipients"], 1000);
        assert_eq!(v["http"]["session_idle"], "30m");
        assert_eq!(v["delivery"]["retry_schedule"][4], "4h");
        assert_eq!(v["listeners"]["admin"], "");
        assert_eq!(v["data_dir"], "/etc/ferrymail/data");
        assert!(!v["hostname"].as_str().unwrap().is_empty());
    }

    #[test]
    fn secrets_are_masked() {
        let text = "[delivery]\nsmarthost = \"relay.test:587\"\nsmarthost_user = \"me\"\n\
             smarthost_password = \"SMARTHOST-PW\"\n\
             [[delivery.host_auth]]\nhost = \"mx.b.test\"\nuser = \"b\"\npassword = \"HOST-PW\"\n\
             [tls]\ncert = \"/etc/c.pem\"\nkey = \"/etc/KEY-FILE.pem\"\n\
             [storage]\nbackend = \"postgres\"\n\
             url = \"postgresql://fm:DB-PW@db.test:5432/mail?sslmode=require&password=Q-PW\"\n";
        let v = effective(&parse(text));
        let shown = v.to_string();
        for s in ["SMARTHOST-PW", "HOST-PW", "KEY-FILE", "DB-PW", "Q-PW"] {
            assert!(!shown.contains(s), "{s} shown: {shown}");
        }
        assert_eq!(v["delivery"]["smarthost_user"], "me");
        assert_eq!(v["delivery"]["smarthost_password"], MASK);
        assert_eq!(v["delivery"]["host_auth"][0]["password"], MASK);
        assert_eq!(v["delivery"]["host_auth"][0]["host"], "mx.b.test");
        assert_eq!(v["tls"]["key"], MASK);
        assert_eq!(v["tls"]["cert"], "/etc/c.pem");
        assert_eq!(
            v["storage"]["url"],
            "postgresql://fm:********@db.test:5432/mail?sslmode=require&password=********"
        );
        // Unset secrets stay empty: the page tells set from unset.
        let v = effective(&parse(""));
        assert_eq!(v["delivery"]["smarthost_password"], "");
        assert_eq!(v["tls"]["key"], "");
    }

    #[test]
    fn connection_strings_lose_their_passwords() {
        for (url, want) in [
            ("postgresql://fm@db/mail", "postgresql://fm@db/mail"),
            ("postgres://fm:p@ss@db", "postgres://fm:********@db"),
            // Passwords holding '/', '?' or '#' (tokio-postgres ends the user-info at the
            // '@', wherever it is).
            (
                "postgres://fm:pa/ss@db/mail",
                "postgres://fm:********@db/mail",
            ),
            (
                "postgres://fm:a/b?c#d@db/mail?sslmode=require",
                "postgres://fm:********@db/mail?sslmode=require",
            ),
            (
                "postgres://db/mail?password=x",
                "postgres://db/mail?password=********",
            ),
            (
                "host=/run/postgresql dbname=mail password=SECRET user=fm",
                "host=/run/postgresql dbname=mail password=******** user=fm",
            ),
            (
                "host=db password = 'SE CRET \\' X' dbname=mail",
                "host=db password = ******** dbname=mail",
            ),
            ("host=db", "host=db"),
        ] {
            assert_eq!(masked_url(url), want, "{url}");
        }
    }
}
