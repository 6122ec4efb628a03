//! Delivering to one destination: a domain's MX hosts (or the smarthost), tried in order
//! over all their addresses until one takes a session, then every queued message for the
//! destination over that one connection.
//!
//! RFC 5321 §5.1: hosts in MX preference order; every address of a host before the next
//! host; a host that cannot be reached, refuses the session or fails the TLS handshake is
//! skipped for the next. Opportunistic TLS whose handshake fails is retried on the same
//! address in the clear (RFC 7435), as Postfix does.

use std::sync::Arc;

use super::dns::{self, DnsError, MxPlan, Resolver};
use super::policy::{self, DomainPolicy};
use super::session::{Connection, OpenError, SessionParams, Timeouts};
use super::settle::Attempt;
use super::tls::TlsPolicy;
use super::tlsrpt;
use crate::config::Config;
use crate::protocols::smtp::client::{Credentials, Outcome, OutgoingMessage, OutgoingRecipient};
use crate::protocols::smtp::{DsnNotify, DsnRet};
use crate::storage::{self, QueueRecord, Store, TlsResult};

/// The destination key of the smarthost (all remote mail goes there when one is set).
pub const SMARTHOST: &str = "[smarthost]";
/// At most this many MX hosts are tried per attempt (RFC 5321 §5.1 suggests a limit).
pub const MAX_HOSTS: usize = 10;
/// At most this many addresses of one host.
pub const MAX_ADDRESSES: usize = 4;

/// Where mail for `address` goes: its domain (lowercase), or [`SMARTHOST`].
pub fn destination(config: &Config, address: &str) -> String {
    if config.delivery.smarthost.is_some() {
        return SMARTHOST.to_string();
    }
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default()
}

/// Why a destination cannot be reached now: every recipient of every message for it gets
/// this result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationFailure {
    pub outcome: Outcome,
    pub status: String,
    pub text: String,
    pub remote_mta: Option<String>,
    /// The text is a server's reply.
    pub from_server: bool,
}

impl DestinationFailure {
    fn temporary(status: &str, text: String) -> DestinationFailure {
        DestinationFailure {
            outcome: Outcome::Temporary,
            status: status.to_string(),
            text,
            remote_mta: None,
            from_server: false,
        }
    }

    fn permanent(status: &str, text: String) -> DestinationFailure {
        DestinationFailure {
            outcome: Outcome::Permanent,
            ..DestinationFailure::temporary(status, text)
        }
    }

    /// The result for recipient `index`.
    pub fn attempt(&self, index: usize) -> Attempt {
        Attempt {
            index,
            outcome: self.outcome,
            status: self.status.clone(),
            text: self.text.clone(),
            diagnostic: self.from_server.then(|| self.text.clone()),
            remote_mta: self.remote_mta.clone(),
            peer_dsn: false,
        }
    }
}

/// What opening a session needs besides the destination.
pub struct Env<'a> {
    pub config: &'a Config,
    pub resolver: Option<&'a Arc<Resolver>>,
    pub store: &'a Store,
    /// Server clock (MTA-STS cache expiry, TLS report days).
    pub now: i64,
}

/// Opens a session with `dest` (a domain, or [`SMARTHOST`]), under the destination's TLS
/// policy ([`policy`]): DANE or MTA-STS where they apply, opportunistic TLS otherwise.
pub async fn connect(env: &Env<'_>, dest: &str) -> Result<Connection, DestinationFailure> {
    let Some(resolver) = env.resolver else {
        return Err(DestinationFailure::temporary(
            "4.4.3",
            "no DNS resolver (see the log at start-up)".into(),
        ));
    };
    let config = env.config;
    let d = &config.delivery;
    let smarthost = dest == SMARTHOST;
    let (hosts, port) = match (&d.smarthost, smarthost) {
        (Some(relay), true) => (vec![relay.host.clone()], relay.port),
        _ => (mx_hosts(config, resolver, dest).await?, d.port),
    };
    let domain = if smarthost {
        DomainPolicy::none(dest)
    } else {
        DomainPolicy::lookup(config, resolver, env.store, env.now, dest).await
    };
    let timeouts = Timeouts {
        connect: d.connect_timeout,
        command: d.command_timeout,
        data: d.data_timeout,
    };
    let mut last: Option<DestinationFailure> = None;
    let mut dns_permanent = 0;
    for host in hosts.iter().take(MAX_HOSTS) {
        if !domain.allows(host) {
            // RFC 8461 §4.1: an MX host the enforced policy does not list is not used.
            count(env, &domain.domain, domain.report(), |r| {
                r.failure = tlsrpt::failure(
                    "validation-failure",
                    host,
                    "",
                    "MX host not listed in the MTA-STS policy",
                )
            });
            last = Some(DestinationFailure::temporary(
                "4.7.5",
                format!("{host}: not an MX host of {dest}'s MTA-STS policy"),
            ));
            continue;
        }
        let host_policy = match policy::for_host(config, &domain, host, port).await {
            Ok(p) => p,
            Err(e) => {
                last = Some(DestinationFailure::temporary("4.4.3", e));
                continue;
            }
        };
        let addrs = match dns::socket_addrs(resolver, host, port).await {
            Ok(a) => a,
            Err(e) => {
                dns_permanent += usize::from(matches!(e, DnsError::Permanent(_)));
                last = Some(DestinationFailure::temporary("4.4.3", e.to_string()));
                continue;
            }
        };
        let mut params = SessionParams {
            ehlo_name: config.hostname.clone(),
            tls: host_policy.tls.clone(),
            credentials: d.auth_for(host, smarthost).map(|a| Credentials {
                user: a.user.clone(),
                password: a.password.0.clone(),
            }),
            timeouts,
        };
        for addr in addrs.into_iter().take(MAX_ADDRESSES) {
            params.tls = host_policy.tls.clone();
            let mut opened = Connection::open(host, addr, &params, false).await;
            if let Some(report) = &host_policy.report {
                report_session(env, &domain.domain, report, host, &addr, &opened);
                let tls_failed = match &opened {
                    Ok(c) => !c.is_tls(),
                    Err(e) => matches!(e, OpenError::Tls(_)) || e.is_no_starttls(),
                };
                if tls_failed && host_policy.may_fall_back {
                    // RFC 8461 §5: testing mode delivers anyway (the failure is reported).
                    tracing::info!(%host, %addr, "MTA-STS testing: delivering without a validated certificate");
                    params.tls = TlsPolicy::Opportunistic;
                    opened = Connection::open(host, addr, &params, false).await;
                }
            }
            if let (Err(OpenError::Tls(e)), TlsPolicy::Opportunistic) = (&opened, &params.tls) {
                tracing::info!(%host, %addr, "TLS handshake failed ({e}); retrying without TLS");
                opened = Connection::open(host, addr, &params, true).await;
            }
            match opened {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::info!(%host, %addr, "cannot deliver through this host: {e}");
                    last = Some(open_failure(host, &e));
                }
            }
        }
    }
    if !hosts.is_empty() && dns_permanent == hosts.len() && !smarthost {
        return Err(DestinationFailure::permanent(
            "5.1.2",
            format!("no mail host of {dest} has an address"),
        ));
    }
    Err(last.unwrap_or_else(|| {
        DestinationFailure::temporary("4.4.1", format!("no host to deliver to for {dest}"))
    }))
}

/// Counts a TLS result under `report` (when a policy applies), as `f` completes it.
fn count(env: &Env<'_>, domain: &str, report: Option<TlsResult>, f: impl FnOnce(&mut TlsResult)) {
    if let Some(mut r) = report {
        f(&mut r);
        tlsrpt::record(env.store, env.now, domain, &r);
    }
}

/// Counts how a session under a policy went: TLS established, or why not (RFC 8460 §4.3).
fn report_session(
    env: &Env<'_>,
    domain: &str,
    report: &TlsResult,
    host: &str,
    addr: &std::net::SocketAddr,
    opened: &Result<Connection, OpenError>,
) {
    let ip = addr.ip().to_string();
    let failure = match opened {
        Ok(c) if c.is_tls() => None,
        Ok(_) => tlsrpt::failure("starttls-not-supported", host, &ip, ""),
        Err(OpenError::Tls(t)) => tlsrpt::failure(t.result_type, host, &ip, &t.why),
        Err(e) if e.is_no_starttls() => tlsrpt::failure("starttls-not-supported", host, &ip, ""),
        // Not a TLS matter (unreachable, refused): not counted.
        Err(_) => return,
    };
    count(env, domain, Some(report.clone()), |r| r.failure = failure);
}

async fn mx_hosts(
    config: &Config,
    resolver: &Resolver,
    dest: &str,
) -> Result<Vec<String>, DestinationFailure> {
    match dns::mx_hosts(resolver, dest).await {
        Ok(MxPlan::NullMx) => Err(DestinationFailure::permanent(
            "5.1.10",
            format!("the domain {dest} accepts no mail (null MX, RFC 7505)"),
        )),
        Ok(MxPlan::Hosts(hosts)) => {
            let names: Vec<String> = hosts.into_iter().map(|h| h.name).collect();
            // RFC 5321 §5.1: an MX naming ourselves would deliver to ourselves forever.
            if names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&config.hostname))
            {
                return Err(DestinationFailure::permanent(
                    "5.4.6",
                    format!("mail for {dest} loops back to myself ({})", config.hostname),
                ));
            }
            Ok(names)
        }
        Err(DnsError::Permanent(e)) => Err(DestinationFailure::permanent("5.1.2", e)),
        Err(DnsError::Temporary(e)) => Err(DestinationFailure::temporary("4.4.3", e)),
    }
}

fn open_failure(host: &str, e: &OpenError) -> DestinationFailure {
    match e {
        // The peer refused the session: try later (another host may take it then).
        OpenError::Refused(r) => DestinationFailure {
            outcome: Outcome::Temporary,
            status: if r.is_transient() || r.local {
                r.status_or_default()
            } else {
                // A permanent refusal of the whole session is still only this host's view.
                "4.4.1".into()
            },
            text: format!("{host}: {}", r.one_line()),
            remote_mta: Some(host.to_string()),
            from_server: !r.local,
        },
        OpenError::Io(e) => DestinationFailure {
            outcome: Outcome::Temporary,
            status: "4.4.1".into(),
            text: format!("{host}: {e}"),
            remote_mta: Some(host.to_string()),
            from_server: false,
        },
        // RFC 3463: 4.7.5 "cryptographic failure"; a policy that needs TLS never falls back.
        OpenError::Tls(e) => DestinationFailure {
            outcome: Outcome::Temporary,
            status: "4.7.5".into(),
            text: format!("{host}: TLS handshake failed: {e}"),
            remote_mta: Some(host.to_string()),
            from_server: false,
        },
    }
}

/// The message of `rec` for its undelivered recipients `indexes`.
pub fn outgoing(rec: &QueueRecord, indexes: &[usize], content: Vec<u8>) -> OutgoingMessage {
    let recipients: Vec<OutgoingRecipient> = indexes
        .iter()
        .filter_map(|i| rec.recipients.get(*i))
        .map(|r| OutgoingRecipient {
            address: r.address.clone(),
            notify: r.notify.as_ref().map(wire_notify),
            orcpt: r.orcpt.clone(),
        })
        .collect();
    let head = super::dsn::header_section(&content);
    // RFC 6531 §3.2: SMTPUTF8 is needed for a non-ASCII envelope, or when the client said so
    // and the header is not ASCII.
    let needs_smtputf8 = !rec.mail_from.is_ascii()
        || recipients.iter().any(|r| !r.address.is_ascii())
        || (rec.params.smtputf8 && !head.is_ascii());
    OutgoingMessage {
        mail_from: rec.mail_from.clone(),
        recipients,
        eight_bit: !content.is_ascii(),
        needs_smtputf8,
        ret: rec.params.ret.map(|r| match r {
            storage::DsnRet::Full => DsnRet::Full,
            storage::DsnRet::Hdrs => DsnRet::Hdrs,
        }),
        envid: rec.params.envid.clone(),
        requiretls: rec.params.requiretls,
        content,
    }
}

/// A stored NOTIFY list as the client codec sends it.
fn wire_notify(list: &storage::NotifyList) -> Vec<DsnNotify> {
    list.keywords()
        .iter()
        .map(|k| match k {
            storage::DsnNotify::Never => DsnNotify::Never,
            storage::DsnNotify::Success => DsnNotify::Success,
            storage::DsnNotify::Failure => DsnNotify::Failure,
            storage::DsnNotify::Delay => DsnNotify::Delay,
        })
        .collect()
}

/// RFC 8689 §4.2.1: a REQUIRETLS message goes only over TLS whose certificate was
/// authenticated by MTA-STS or DANE. Why `conn` cannot carry `rec`, if it cannot. (That the
/// peer offers REQUIRETLS, 5.7.30, is the client codec's check.)
pub fn requiretls_refusal(rec: &QueueRecord, conn: &Connection) -> Option<String> {
    if !rec.params.requiretls || conn.authenticated.is_some() {
        return None;
    }
    Some(if conn.is_tls() {
        format!(
            "REQUIRETLS: {} was not authenticated by MTA-STS or DANE (the recipient domain \
             publishes neither an MTA-STS policy nor DNSSEC-signed TLSA records); not sent",
            conn.host
        )
    } else {
        format!(
            "REQUIRETLS: {} offers no TLS (STARTTLS), and the message must not go in the clear; not sent",
            conn.host
        )
    })
}

/// Sends `rec` over `conn`; the attempts, one per recipient in `indexes`. The connection
/// is dropped when it cannot take another message.
pub async fn send(
    conn: &mut Option<Connection>,
    rec: &QueueRecord,
    indexes: &[usize],
    content: Vec<u8>,
) -> Vec<Attempt> {
    let Some(c) = conn.as_mut() else {
        let f = DestinationFailure::temporary("4.4.1", "no connection".into());
        return indexes.iter().map(|i| f.attempt(*i)).collect();
    };
    if let Some(why) = requiretls_refusal(rec, c) {
        let f = DestinationFailure::permanent("5.7.10", why);
        return indexes.iter().map(|i| f.attempt(*i)).collect();
    }
    let (results, usable) = c.deliver(outgoing(rec, indexes, content)).await;
    let host = c.host.clone();
    let peer_dsn = c.capabilities().dsn;
    if !usable {
        *conn = None;
    }
    indexes
        .iter()
        .zip(results.iter())
        .map(|(i, r)| Attempt::from_result(*i, r, &host, peer_dsn))
        .collect()
}
