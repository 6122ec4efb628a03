//! Checks of a message arriving from another server: SPF (RFC 7208) for the HELO and MAIL
//! FROM identities, DKIM (RFC 6376, RFC 8463), ARC (RFC 8617) and DMARC (RFC 7489, with the
//! DMARCbis tree walk mail-auth does), summarised for [`super::results`].
//!
//! Every lookup goes to the `[dns] nameservers` (or the system resolver) with a per-query
//! timeout, and all checks of one message share one deadline: a check that has not finished
//! by then is `temperror`, so a dead DNS server costs at most `verify_timeout`.

use std::net::IpAddr;
use std::time::Duration;

use mail_auth::dkim::DkimError;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, MessageAuthenticator, SpfOutput,
    SpfResult,
};
use tokio::time::Instant;

use super::results::{AuthSummary, DkimCheck, DmarcCheck, DmarcPolicy, Verdict};
use super::AuthError;
use crate::config::DnsConfig;

/// The resolver settings for `dns`: its name servers over UDP and TCP (or, when none are
/// configured, the system's), a per-query `timeout`, two attempts, and EDNS so that long TXT
/// records (2048-bit DKIM keys) fit in one UDP answer.
pub fn resolver_config(
    dns: &DnsConfig,
    timeout: Duration,
) -> Result<(ResolverConfig, ResolverOpts), AuthError> {
    let (config, mut opts) = if dns.nameservers.is_empty() {
        mail_auth::hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| AuthError::Dns(format!("system resolver configuration: {e}")))?
    } else {
        (
            crate::outbound::dns::configured_servers(dns),
            ResolverOpts::default(),
        )
    };
    opts.timeout = timeout;
    opts.attempts = 2;
    opts.edns0 = true;
    Ok((config, opts))
}

/// What [`Verifier::check`] needs to know about one message.
#[derive(Clone, Copy, Debug)]
pub struct Inbound<'a> {
    /// The SMTP client's address.
    pub ip: IpAddr,
    /// The EHLO/HELO argument.
    pub helo: &'a str,
    /// The reverse-path, "" for the null sender.
    pub mail_from: &'a str,
    /// The message as received.
    pub message: &'a [u8],
}

/// A resolver and the time budget of one message's checks.
pub struct Verifier {
    auth: MessageAuthenticator,
    budget: Duration,
}

impl Verifier {
    /// A verifier that asks `dns`, waiting at most `dns_timeout` per query and `budget` for all
    /// checks of a message.
    pub fn new(
        dns: &DnsConfig,
        dns_timeout: Duration,
        budget: Duration,
    ) -> Result<Verifier, AuthError> {
        let (config, opts) = resolver_config(dns, dns_timeout)?;
        let auth = MessageAuthenticator::new(config, opts)
            .map_err(|e| AuthError::Dns(format!("resolver: {e}")))?;
        Ok(Verifier { auth, budget })
    }

    /// Runs every check. `hostname` is our own name (SPF's `%{r}` macro).
    pub async fn check(&self, hostname: &str, m: Inbound<'_>) -> AuthSummary {
        let deadline = Instant::now() + self.budget;
        let helo = m.helo.trim();
        // RFC 7208 §2.4: for the null sender, the MAIL FROM identity is postmaster@HELO.
        let sender = if m.mail_from.is_empty() {
            format!("postmaster@{helo}")
        } else {
            m.mail_from.to_string()
        };
        let sender_domain = sender
            .rsplit_once('@')
            .map_or(helo, |(_, d)| d)
            .to_ascii_lowercase();

        // RFC 7208 §2.3: the HELO identity is checked only when it is a domain name.
        let helo_is_domain =
            helo.contains('.') && !helo.starts_with('[') && helo.parse::<IpAddr>().is_err();
        let spf_helo = if helo_is_domain {
            let out = within(
                deadline,
                self.auth
                    .verify_spf(SpfParameters::verify_ehlo(m.ip, helo, hostname)),
            )
            .await;
            Some((
                out.map_or(Verdict::TempError, |o| spf_verdict(o.result())),
                helo.to_string(),
            ))
        } else {
            None
        };
        let spf_out: Option<SpfOutput> = within(
            deadline,
            self.auth.verify_spf(SpfParameters::verify_mail_from(
                m.ip, helo, hostname, &sender,
            )),
        )
        .await;
        let spf_mail_from = (
            spf_out
                .as_ref()
                .map_or(Verdict::TempError, |o| spf_verdict(o.result())),
            sender.clone(),
        );

        let Some(parsed) = AuthenticatedMessage::parse(m.message) else {
            return AuthSummary {
                spf_helo,
                spf_mail_from,
                dkim: Vec::new(),
                arc: Verdict::None,
                dmarc: DmarcCheck {
                    verdict: Verdict::None,
                    from_domain: None,
                    policy: DmarcPolicy::None,
                },
            };
        };
        let dkim_out: Option<Vec<DkimOutput>> =
            within(deadline, self.auth.verify_dkim(&parsed)).await;
        let dkim = match &dkim_out {
            Some(outputs) => outputs.iter().map(dkim_check).collect(),
            // Timed out: one temperror per signature present.
            None => parsed
                .dkim_headers
                .iter()
                .map(|h| DkimCheck {
                    verdict: Verdict::TempError,
                    reason: Some("DNS timeout".into()),
                    domain: Some(h.header.d.clone()),
                    selector: Some(h.header.s.clone()),
                    b_prefix: None,
                })
                .collect(),
        };
        let arc = if parsed.as_headers.is_empty() && parsed.ams_headers.is_empty() {
            Verdict::None
        } else {
            within(deadline, self.auth.verify_arc(&parsed))
                .await
                .map_or(Verdict::TempError, |o| dkim_verdict(o.result()))
        };
        let dmarc = match (&dkim_out, &spf_out) {
            (Some(dkim_out), Some(spf_out)) => {
                let params = DmarcParameters::new(&parsed, dkim_out, &sender_domain, spf_out);
                match within(deadline, self.auth.verify_dmarc(params)).await {
                    Some(o) => DmarcCheck {
                        verdict: dmarc_verdict(&o.result()),
                        from_domain: (!o.domain().is_empty()).then(|| o.domain().to_string()),
                        policy: match o.policy() {
                            Policy::Reject => DmarcPolicy::Reject,
                            Policy::Quarantine => DmarcPolicy::Quarantine,
                            Policy::None | Policy::Unspecified => DmarcPolicy::None,
                        },
                    },
                    None => dmarc_temperror(m.message),
                }
            }
            _ => dmarc_temperror(m.message),
        };
        AuthSummary {
            spf_helo,
            spf_mail_from,
            dkim,
            arc,
            dmarc,
        }
    }
}

/// `fut`'s output, or `None` when `deadline` passes first.
async fn within<T>(deadline: Instant, fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline, fut).await.ok()
}

fn dmarc_temperror(message: &[u8]) -> DmarcCheck {
    DmarcCheck {
        verdict: Verdict::TempError,
        from_domain: super::sign::from_domain(message),
        policy: DmarcPolicy::None,
    }
}

fn spf_verdict(r: SpfResult) -> Verdict {
    match r {
        SpfResult::Pass => Verdict::Pass,
        SpfResult::Fail => Verdict::Fail,
        SpfResult::SoftFail => Verdict::SoftFail,
        SpfResult::Neutral => Verdict::Neutral,
        SpfResult::TempError => Verdict::TempError,
        SpfResult::PermError => Verdict::PermError,
        SpfResult::None => Verdict::None,
    }
}

fn dkim_verdict(r: &DkimResult) -> Verdict {
    match r {
        DkimResult::Pass => Verdict::Pass,
        // mail-auth calls a body hash mismatch neutral; for RFC 8601 §2.7.1 it is a signature
        // that "failed verification" (RFC 6376 §6.1.3: PERMFAIL).
        DkimResult::Neutral(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            Verdict::Fail
        }
        DkimResult::Neutral(_) => Verdict::Neutral,
        DkimResult::Fail(_) => Verdict::Fail,
        DkimResult::PermError(_) => Verdict::PermError,
        DkimResult::TempError(_) => Verdict::TempError,
        DkimResult::None => Verdict::None,
    }
}

fn dmarc_verdict(r: &DmarcResult) -> Verdict {
    match r {
        DmarcResult::Pass => Verdict::Pass,
        DmarcResult::Fail(_) => Verdict::Fail,
        DmarcResult::TempError(_) => Verdict::TempError,
        DmarcResult::PermError(_) => Verdict::PermError,
        DmarcResult::None => Verdict::None,
    }
}

fn dkim_check(o: &DkimOutput) -> DkimCheck {
    let reason = match o.result() {
        DkimResult::Pass | DkimResult::None => None,
        DkimResult::Neutral(e)
        | DkimResult::Fail(e)
        | DkimResult::PermError(e)
        | DkimResult::TempError(e) => Some(e.to_string()),
    };
    let sig = o.signature();
    DkimCheck {
        verdict: dkim_verdict(o.result()),
        reason,
        domain: sig.map(|s| s.d.clone()),
        selector: sig.map(|s| s.s.clone()),
        // RFC 6008: enough of b= to tell signatures apart.
        b_prefix: sig.and_then(|s| {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD.encode(&s.b);
            (!b.is_empty()).then(|| b.chars().take(8).collect())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::generate;
    use super::super::sign::Signer;
    use super::super::testdns::TestDns;
    use super::*;
    use crate::storage::DkimAlgorithm;

    const BODY: &str = "From: Bob <bob@example.com>\r\nTo: alice@remote.example\r\n\
        Subject: hello\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\
        Message-ID: <1@example.com>\r\n\r\nHello Alice.\r\n";

    fn verifier(dns: &TestDns, budget: u64) -> Verifier {
        let cfg = DnsConfig {
            nameservers: vec![dns.addr()],
            trust_ad: false,
        };
        Verifier::new(&cfg, Duration::from_secs(1), Duration::from_secs(budget)).unwrap()
    }

    fn inbound<'a>(message: &'a [u8], mail_from: &'a str, ip: &str) -> Inbound<'a> {
        Inbound {
            ip: ip.parse().unwrap(),
            helo: "mail.example.com",
            mail_from,
            message,
        }
    }

    /// Signs BODY with a fresh key of `algorithm`, published in `dns`.
    fn signed(dns: &TestDns, algorithm: DkimAlgorithm) -> Vec<u8> {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("example.com").unwrap();
        let key = generate(
            &store,
            "example.com",
            algorithm,
            None,
            crate::clock::unix_now(),
        )
        .unwrap();
        dns.txt(&key.dns_name(), &key.dns_txt());
        let header = Signer::default()
            .sign(&store, BODY.as_bytes(), "example.com")
            .unwrap()
            .unwrap();
        [header.as_bytes(), BODY.as_bytes()].concat()
    }

    #[tokio::test]
    async fn signed_messages_verify_and_tampering_fails() {
        let dns = TestDns::start();
        dns.txt("example.com", "v=spf1 ip4:127.0.0.1 -all");
        dns.txt("_dmarc.example.com", "v=DMARC1; p=reject");
        let v = verifier(&dns, 10);
        for alg in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
            let msg = signed(&dns, alg);
            let s = v
                .check("mx.test", inbound(&msg, "bob@example.com", "127.0.0.1"))
                .await;
            assert_eq!(s.dkim.len(), 1, "{alg:?} {s:?}");
            assert_eq!(s.dkim[0].verdict, Verdict::Pass, "{alg:?} {s:?}");
            assert_eq!(s.dkim[0].domain.as_deref(), Some("example.com"));
            assert_eq!(s.spf_mail_from.0, Verdict::Pass);
            assert_eq!(s.dmarc.verdict, Verdict::Pass);
            assert_eq!(s.dmarc.policy, DmarcPolicy::Reject);

            let text = String::from_utf8(msg).unwrap();
            let tampered = text.replace("Hello Alice.", "Hello Mallory.");
            let s = v
                .check(
                    "mx.test",
                    inbound(tampered.as_bytes(), "bob@example.com", "192.0.2.9"),
                )
                .await;
            assert_eq!(s.dkim[0].verdict, Verdict::Fail, "{alg:?} {s:?}");
            assert_eq!(s.spf_mail_from.0, Verdict::Fail);
            assert_eq!(s.dmarc.verdict, Verdict::Fail);
            let header_changed = text.replace("Subject: hello", "Subject: HELLO there");
            let s = v
                .check(
                    "mx.test",
                    inbound(header_changed.as_bytes(), "bob@example.com", "127.0.0.1"),
                )
                .await;
            assert_eq!(s.dkim[0].verdict, Verdict::Fail, "{alg:?} {s:?}");
            // SPF still passes and aligns, so DMARC passes.
            assert_eq!(s.dmarc.verdict, Verdict::Pass);
        }
    }

    #[tokio::test]
    async fn spf_results_follow_the_published_policy() {
        let dns = TestDns::start();
        dns.txt("pass.example", "v=spf1 ip4:127.0.0.1 -all");
        dns.txt("soft.example", "v=spf1 ip4:192.0.2.1 ~all");
        dns.txt("hard.example", "v=spf1 ip4:192.0.2.1 -all");
        dns.txt("mail.example.com", "v=spf1 ip4:127.0.0.1 -all");
        let v = verifier(&dns, 10);
        let msg = BODY.as_bytes();
        for (from, want) in [
            ("a@pass.example", Verdict::Pass),
            ("a@soft.example", Verdict::SoftFail),
            ("a@hard.example", Verdict::Fail),
            ("a@unpublished.example", Verdict::None),
        ] {
            let s = v.check("mx.test", inbound(msg, from, "127.0.0.1")).await;
            assert_eq!(s.spf_mail_from, (want, from.to_string()), "{from}");
            assert_eq!(s.spf_helo, Some((Verdict::Pass, "mail.example.com".into())));
            assert!(s.dkim.is_empty());
        }
        // Null sender: the identity is postmaster@HELO.
        let s = v.check("mx.test", inbound(msg, "", "127.0.0.1")).await;
        assert_eq!(
            s.spf_mail_from,
            (Verdict::Pass, "postmaster@mail.example.com".into())
        );
    }

    #[tokio::test]
    async fn a_silent_dns_server_gives_temperror_within_the_budget() {
        let dns = TestDns::start();
        dns.set_silent("example.com");
        dns.set_silent("mail.example.com");
        dns.set_silent("_dmarc.example.com");
        let v = verifier(&dns, 3);
        let msg = signed(&dns, DkimAlgorithm::Ed25519);
        let started = std::time::Instant::now();
        let s = v
            .check("mx.test", inbound(&msg, "bob@example.com", "127.0.0.1"))
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(s.spf_mail_from.0, Verdict::TempError, "{s:?}");
        assert_eq!(s.dmarc.verdict, Verdict::TempError, "{s:?}");
        assert_eq!(s.dmarc.from_domain.as_deref(), Some("example.com"));
    }

    #[tokio::test]
    async fn dmarc_fails_without_alignment_and_reports_the_policy() {
        let dns = TestDns::start();
        dns.txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
        dns.txt("other.example", "v=spf1 ip4:127.0.0.1 -all");
        let v = verifier(&dns, 10);
        // SPF passes for other.example, which is not the From: domain; no signature.
        let s = v
            .check(
                "mx.test",
                inbound(BODY.as_bytes(), "x@other.example", "127.0.0.1"),
            )
            .await;
        assert_eq!(s.spf_mail_from.0, Verdict::Pass);
        assert_eq!(s.dmarc.verdict, Verdict::Fail, "{s:?}");
        assert_eq!(s.dmarc.policy, DmarcPolicy::Quarantine);
        assert_eq!(s.arc, Verdict::None);
    }
}
