//! The Authentication-Results header (RFC 8601) and the DMARC disposition, as pure functions
//! over a summary of the checks, so that both are tested without DNS.

use std::fmt::Write as _;

/// One method's result, as RFC 8601 §2.7 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    TempError,
    PermError,
    Policy,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::SoftFail => "softfail",
            Verdict::Neutral => "neutral",
            Verdict::None => "none",
            Verdict::TempError => "temperror",
            Verdict::PermError => "permerror",
            Verdict::Policy => "policy",
        }
    }
}

/// One DKIM signature's result (RFC 8601 §2.7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimCheck {
    pub verdict: Verdict,
    /// Why it did not pass, shown as a comment.
    pub reason: Option<String>,
    /// `d=`, `s=` and the first bytes of `b=` (base64) of the signature, when it parsed.
    pub domain: Option<String>,
    pub selector: Option<String>,
    pub b_prefix: Option<String>,
}

/// The DMARC evaluation (RFC 7489 §11.2): result, the RFC5322.From domain, and the policy the
/// domain asks for (after `sp`, `np` and `t=y` are taken into account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmarcCheck {
    pub verdict: Verdict,
    pub from_domain: Option<String>,
    pub policy: DmarcPolicy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

impl DmarcPolicy {
    fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }
}

/// Every check of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSummary {
    /// SPF of the HELO identity (RFC 7208 §2.3), absent when HELO named an address literal.
    pub spf_helo: Option<(Verdict, String)>,
    /// SPF of the MAIL FROM identity (RFC 7208 §2.4); for the null sender this is
    /// postmaster@HELO.
    pub spf_mail_from: (Verdict, String),
    /// One entry per signature; empty means the message was not signed.
    pub dkim: Vec<DkimCheck>,
    pub arc: Verdict,
    pub dmarc: DmarcCheck,
}

/// What the DMARC policy makes of a message (RFC 7489 §6.7, §10.1 for how receivers act).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    Deliver,
    /// Deliver to the recipient's Junk folder.
    Quarantine,
    /// Refuse at the end of DATA (550 5.7.1).
    Reject,
}

/// The disposition: only a DMARC `fail` under a reject or quarantine policy changes anything,
/// and only when enforcing. A temporary or permanent error is never a reason to refuse
/// (RFC 7489 §6.6.2 leaves it to the receiver; losing mail to a DNS hiccup is worse).
pub fn disposition(dmarc: &DmarcCheck, enforce: bool) -> Disposition {
    match (enforce, dmarc.verdict, dmarc.policy) {
        (true, Verdict::Fail, DmarcPolicy::Reject) => Disposition::Reject,
        (true, Verdict::Fail, DmarcPolicy::Quarantine) => Disposition::Quarantine,
        _ => Disposition::Deliver,
    }
}

/// The header field, CRLF-terminated and folded one result per line (RFC 8601 §2.2):
///
/// ```text
/// Authentication-Results: mx.example.org;
///     spf=pass smtp.mailfrom=alice@example.com;
///     dkim=pass header.d=example.com header.s=sel header.b=AbCdEf12;
///     dmarc=pass (p=reject) header.from=example.com
/// ```
pub fn format_header(authserv_id: &str, s: &AuthSummary) -> String {
    let mut parts: Vec<String> = Vec::new();
    let (v, mail_from) = &s.spf_mail_from;
    parts.push(format!(
        "spf={} smtp.mailfrom={}",
        v.as_str(),
        pvalue(mail_from)
    ));
    if let Some((v, helo)) = &s.spf_helo {
        parts.push(format!("spf={} smtp.helo={}", v.as_str(), pvalue(helo)));
    }
    if s.dkim.is_empty() {
        parts.push("dkim=none (no signatures)".into());
    }
    for d in &s.dkim {
        let mut p = format!("dkim={}", d.verdict.as_str());
        if let Some(r) = &d.reason {
            let _ = write!(p, " ({})", comment(r));
        }
        if let Some(x) = &d.domain {
            let _ = write!(p, " header.d={}", pvalue(x));
        }
        if let Some(x) = &d.selector {
            let _ = write!(p, " header.s={}", pvalue(x));
        }
        if let Some(x) = &d.b_prefix {
            let _ = write!(p, " header.b={}", pvalue(x));
        }
        parts.push(p);
    }
    parts.push(format!("arc={}", s.arc.as_str()));
    let mut dmarc = format!(
        "dmarc={} (p={})",
        s.dmarc.verdict.as_str(),
        s.dmarc.policy.as_str()
    );
    if let Some(d) = &s.dmarc.from_domain {
        let _ = write!(dmarc, " header.from={}", pvalue(d));
    }
    parts.push(dmarc);
    let mut out = format!("Authentication-Results: {}", comment_free(authserv_id));
    for p in parts {
        out.push_str(";\r\n\t");
        out.push_str(&p);
    }
    out.push_str("\r\n");
    out
}

/// A property value (RFC 8601 §2.2 `pvalue`): a token or an address as is, anything else
/// quoted; characters that could break the header are dropped.
fn pvalue(v: &str) -> String {
    let clean: String = v
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    let plain = !clean.is_empty()
        && clean.chars().all(|c| {
            c.is_ascii_alphanumeric() || "@.-_+=/!#$%&'*^`{|}~".contains(c) || !c.is_ascii()
        });
    if plain {
        clean
    } else {
        format!("\"{clean}\"")
    }
}

/// Text safe inside a comment: no parentheses, backslashes or controls.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '(' | ')' | '\\' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect::<String>()
        .trim()
        .chars()
        .take(120)
        .collect()
}

fn comment_free(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && *c != ';')
        .collect()
}

/// Removes every Authentication-Results field that claims `authserv_id` from the header of
/// `message` (RFC 8601 §5: a forged one from outside could pass for ours). Other fields and
/// the body are untouched; the message is returned unchanged when there is nothing to remove.
pub fn strip_forged(message: &[u8], authserv_id: &str) -> Option<Vec<u8>> {
    let header_end = header_end(message);
    let mut fields: Vec<(usize, usize)> = Vec::new(); // [start, end) of each field
    let mut pos = 0;
    while pos < header_end {
        let mut end = line_end(message, pos);
        while end < header_end && matches!(message.get(end), Some(b' ' | b'\t')) {
            end = line_end(message, end);
        }
        fields.push((pos, end));
        pos = end;
    }
    let forged: Vec<(usize, usize)> = fields
        .into_iter()
        .filter(|(s, e)| claims(&message[*s..*e], authserv_id))
        .collect();
    if forged.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(message.len());
    let mut last = 0;
    for (s, e) in forged {
        out.extend_from_slice(&message[last..s]);
        last = e;
    }
    out.extend_from_slice(&message[last..]);
    Some(out)
}

/// Offset of the blank line that ends the header (or the end of the message).
fn header_end(m: &[u8]) -> usize {
    let mut pos = 0;
    while pos < m.len() {
        if m[pos..].starts_with(b"\r\n") || m[pos..].starts_with(b"\n") {
            return pos;
        }
        pos = line_end(m, pos);
    }
    m.len()
}

/// Offset just past the LF ending the line that starts at `pos`.
fn line_end(m: &[u8], pos: usize) -> usize {
    match m[pos..].iter().position(|b| *b == b'\n') {
        Some(i) => pos + i + 1,
        None => m.len(),
    }
}

/// Whether a whole header field is an Authentication-Results field whose authserv-id (the
/// first token of the value, after any comment) is `id`.
fn claims(field: &[u8], id: &str) -> bool {
    const NAME: &[u8] = b"authentication-results";
    let Some(colon) = field.iter().position(|b| *b == b':') else {
        return false;
    };
    if !field[..colon].trim_ascii().eq_ignore_ascii_case(NAME) {
        return false;
    }
    let value = String::from_utf8_lossy(&field[colon + 1..]);
    let mut rest = value.trim_start();
    while let Some(after) = rest.strip_prefix('(') {
        rest = after.split_once(')').map_or("", |(_, r)| r).trim_start();
    }
    let token: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ';' && *c != '(')
        .collect();
    token.eq_ignore_ascii_case(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> AuthSummary {
        AuthSummary {
            spf_helo: Some((Verdict::Pass, "mail.example.com".into())),
            spf_mail_from: (Verdict::SoftFail, "alice@example.com".into()),
            dkim: vec![DkimCheck {
                verdict: Verdict::Fail,
                reason: Some("body hash (bh=) mismatch".into()),
                domain: Some("example.com".into()),
                selector: Some("sel".into()),
                b_prefix: Some("AbCd+/12".into()),
            }],
            arc: Verdict::None,
            dmarc: DmarcCheck {
                verdict: Verdict::Fail,
                from_domain: Some("example.com".into()),
                policy: DmarcPolicy::Reject,
            },
        }
    }

    #[test]
    fn header_lists_every_method_one_per_line() {
        assert_eq!(
            format_header("mx.example.org", &summary()),
            "Authentication-Results: mx.example.org;\r\n\
             \tspf=softfail smtp.mailfrom=alice@example.com;\r\n\
             \tspf=pass smtp.helo=mail.example.com;\r\n\
             \tdkim=fail (body hash  bh=  mismatch) header.d=example.com header.s=sel header.b=AbCd+/12;\r\n\
             \tarc=none;\r\n\
             \tdmarc=fail (p=reject) header.from=example.com\r\n"
        );
        let mut s = summary();
        s.dkim.clear();
        s.spf_helo = None;
        s.spf_mail_from = (Verdict::None, "postmaster@[x] y;z".into());
        let h = format_header("mx", &s);
        assert!(h.contains("\tdkim=none (no signatures);"), "{h}");
        assert!(h.contains("smtp.mailfrom=\"postmaster@[x] y;z\";"), "{h}");
        assert!(!h.contains("smtp.helo"), "{h}");
    }

    #[test]
    fn disposition_follows_policy_only_on_fail_and_when_enforcing() {
        let check = |verdict, policy| DmarcCheck {
            verdict,
            from_domain: None,
            policy,
        };
        use DmarcPolicy as P;
        use Verdict as V;
        let cases = [
            (V::Fail, P::Reject, true, Disposition::Reject),
            (V::Fail, P::Quarantine, true, Disposition::Quarantine),
            (V::Fail, P::None, true, Disposition::Deliver),
            (V::Fail, P::Reject, false, Disposition::Deliver),
            (V::Pass, P::Reject, true, Disposition::Deliver),
            (V::TempError, P::Reject, true, Disposition::Deliver),
            (V::PermError, P::Quarantine, true, Disposition::Deliver),
        ];
        for (v, p, enforce, want) in cases {
            assert_eq!(
                disposition(&check(v, p), enforce),
                want,
                "{v:?} {p:?} {enforce}"
            );
        }
    }

    #[test]
    fn forged_results_for_our_id_are_removed_and_others_kept() {
        let msg = b"Authentication-Results: MX.example.org; dkim=pass\r\n\
            \theader.d=bank.example\r\n\
            Received: from a\r\n\
            Authentication-Results: (comment) mx.example.org;\r\n spf=pass\r\n\
            Authentication-Results: other.example; dkim=pass\r\n\
            Subject: hi\r\n\
            \r\n\
            Authentication-Results: mx.example.org; in the body\r\n";
        let out = strip_forged(msg, "mx.example.org").expect("changed");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: from a\r\n\
             Authentication-Results: other.example; dkim=pass\r\n\
             Subject: hi\r\n\
             \r\n\
             Authentication-Results: mx.example.org; in the body\r\n"
        );
        assert_eq!(strip_forged(b"Subject: x\r\n\r\nbody", "mx"), None);
        assert_eq!(strip_forged(b"", "mx"), None);
        assert_eq!(
            strip_forged(
                b"Authentication-Results: mx.example.orgx; a\n\nb",
                "mx.example.org"
            ),
            None
        );
    }
}
