//! The DNS records a hosted domain publishes so that clients find this server (the
//! dashboard's DNS page): MX, the SRV records of RFC 6186 (`_imap`, `_imaps`, `_pop3`,
//! `_pop3s`, `_submission`) and RFC 8314 §5.1 (`_submissions`), Outlook's
//! `_autodiscover._tcp` SRV, and the `autoconfig.`/`autodiscover.` names Thunderbird and
//! Outlook try. Built from the same [`Offer`] as the answers of this module, so what the
//! page says to publish is what the server answers.
//!
//! RFC 6186 §3.4 lets a client compare priorities across the IMAP (or POP3, or submission)
//! names; RFC 8314 §5.1 asks that implicit TLS be preferred: implicit-TLS records get
//! priority 0, STARTTLS ones 10. A service the server does not offer is published as "not
//! available here" (target `.`, port 0, RFC 6186 §3.4, RFC 2782), so clients do not guess.

use super::{Endpoint, Offer};

/// One record to publish, in zone-file terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name, fully qualified with its final dot.
    pub name: String,
    pub kind: &'static str,
    pub value: String,
    /// Why it is there, for the person publishing it.
    pub note: String,
}

/// The records of `domain`.
pub fn records(offer: &Offer, domain: &str) -> Vec<Record> {
    let host = format!("{}.", offer.host.trim_end_matches('.'));
    let mut out = vec![Record {
        name: format!("{domain}."),
        kind: "MX",
        value: format!("10 {host}"),
        note: "mail for the domain comes to this server".into(),
    }];
    let srv = [
        (
            "_submissions",
            offer.smtps,
            "SMTP submission, implicit TLS (RFC 8314)",
        ),
        (
            "_submission",
            offer.submission,
            "SMTP submission, STARTTLS (RFC 6186)",
        ),
        ("_imaps", offer.imaps, "IMAP, implicit TLS"),
        ("_imap", offer.imap, "IMAP, STARTTLS"),
        ("_pop3s", offer.pop3s, "POP3, implicit TLS"),
        ("_pop3", offer.pop3, "POP3, STLS"),
    ];
    for (service, ep, what) in srv {
        let (value, note) = match ep {
            Some(Endpoint { port, implicit_tls }) => {
                let priority = if implicit_tls { 0 } else { 10 };
                (format!("{priority} 1 {port} {host}"), what.to_string())
            }
            None => (
                "0 0 0 .".to_string(),
                format!("{what}: not offered by this server"),
            ),
        };
        out.push(Record {
            name: format!("{service}._tcp.{domain}."),
            kind: "SRV",
            value,
            note,
        });
    }
    let https_note = match offer.https {
        Some(443) => String::new(),
        Some(p) => format!(" (the https listener is on port {p}: clients look on 443)"),
        None => " (the https listener is off: clients will not find the answers)".into(),
    };
    out.push(Record {
        name: format!("_autodiscover._tcp.{domain}."),
        kind: "SRV",
        value: format!("0 1 {} {host}", offer.https.unwrap_or(443)),
        note: format!("Outlook's Autodiscover{https_note}"),
    });
    for (prefix, who) in [
        ("autoconfig", "Thunderbird's autoconfig"),
        ("autodiscover", "Outlook's Autodiscover"),
    ] {
        out.push(Record {
            name: format!("{prefix}.{domain}."),
            kind: "CNAME",
            value: host.clone(),
            note: format!(
                "{who}; the TLS certificate must also name {prefix}.{domain}{https_note}"
            ),
        });
    }
    out
}
