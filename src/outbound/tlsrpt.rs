//! SMTP TLS reporting (RFC 8460): every outbound TLS session under a policy (MTA-STS or DANE),
//! and every failure to get one, is counted per policy domain per UTC day
//! ([`Store::tlsrpt_add`]); once a day is over, its aggregate report (§4, JSON, not gzipped)
//! goes by mail to the `mailto:` addresses of the domain's `_smtp._tls` TXT record (§3), through
//! the normal queue, when `[delivery] tls_reports` is on.
//!
//! Deviations: `https:` report URIs (§3) are not used (only `mailto:`); reports are not
//! compressed (§5.3 allows both); reports are sent with the null reverse-path so that a report
//! that cannot be delivered never bounces (it is kept in the bad queue instead).

use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_builder::MessageBuilder;
use serde_json::json;

use super::dns::Resolver;
use crate::protocols::date::civil_from_days;
use crate::storage::{
    QueueId, QueueName, QueueRecipient, QueueRecord, StorageError, Store, TlsFailureCount,
    TlsPolicyCounts, TlsResult,
};

/// Days of counts kept when reports are not sent (for `tls-policy show`).
pub const KEEP_DAYS: u32 = 7;

/// The UTC day (days since 1970) of `unix_secs`.
pub fn day_of(unix_secs: i64) -> u32 {
    u32::try_from(unix_secs.div_euclid(86_400)).unwrap_or(0)
}

/// "YYYY-MM-DD" of a day number.
pub fn date(day: u32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Counts `r` for `domain` today; a storage error is logged (reports are statistics).
pub fn record(store: &Store, now: i64, domain: &str, r: &TlsResult) {
    if let Err(e) = store.tlsrpt_add(day_of(now), domain, r) {
        tracing::warn!(%domain, "cannot record the TLS result: {e}");
    }
}

/// A failure of `result_type` at `host` (`ip` may be empty).
pub fn failure(result_type: &str, host: &str, ip: &str, info: &str) -> Option<TlsFailureCount> {
    Some(TlsFailureCount {
        result_type: result_type.to_string(),
        receiving_mx_hostname: host.to_string(),
        receiving_ip: ip.to_string(),
        additional_information: info.to_string(),
        count: 0,
    })
}

/// The report addresses of a `v=TLSRPTv1; rua=…` record (RFC 8460 §3): the `mailto:` ones.
pub fn parse_rua(txt: &str) -> Result<Vec<String>, String> {
    let mut fields = txt.split(';').map(str::trim).filter(|f| !f.is_empty());
    if fields.next() != Some("v=TLSRPTv1") {
        return Err("not a TLSRPTv1 record".into());
    }
    let rua = fields
        .find_map(|f| f.strip_prefix("rua="))
        .ok_or("no rua")?;
    Ok(rua
        .split(',')
        .filter_map(|u| u.trim().strip_prefix("mailto:"))
        .map(|a| a.split('?').next().unwrap_or(a).to_string())
        .filter(|a| a.contains('@'))
        .collect())
}

/// The `mailto:` report addresses of `domain` (empty when it asks for none).
pub async fn rua(resolver: &Resolver, domain: &str) -> Result<Vec<String>, String> {
    let name = format!("_smtp._tls.{domain}.");
    match resolver.txt_lookup(name.clone()).await {
        Ok(l) => {
            let found: Vec<Vec<String>> = l
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    hickory_resolver::proto::rr::RData::TXT(t) => parse_rua(&t.to_string()).ok(),
                    _ => None,
                })
                .collect();
            // §3: more than one record is as good as none.
            Ok(if found.len() == 1 {
                found.into_iter().next().unwrap_or_default()
            } else {
                Vec::new()
            })
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
        Err(e) => Err(format!("TXT lookup for {name}: {e}")),
    }
}

/// The JSON report of `domain` for `day` (RFC 8460 §4.4).
pub fn report_json(
    submitter: &str,
    day: u32,
    domain: &str,
    counts: &[TlsPolicyCounts],
    report_id: &str,
) -> String {
    let d = date(day);
    let policies: Vec<serde_json::Value> = counts
        .iter()
        .map(|p| {
            let failed: u64 = p.failures.iter().map(|f| f.count).sum();
            let details: Vec<serde_json::Value> = p
                .failures
                .iter()
                .map(|f| {
                    let mut v = json!({
                        "result-type": f.result_type,
                        "failed-session-count": f.count,
                    });
                    let extra = [
                        ("receiving-mx-hostname", &f.receiving_mx_hostname),
                        ("receiving-ip", &f.receiving_ip),
                        ("additional-information", &f.additional_information),
                    ];
                    for (k, val) in extra {
                        if !val.is_empty() {
                            v[k] = json!(val);
                        }
                    }
                    v
                })
                .collect();
            json!({
                "policy": {
                    "policy-type": p.policy_type,
                    "policy-string": p.policy_string,
                    "policy-domain": domain,
                    "mx-host": p.mx_host,
                },
                "summary": {
                    "total-successful-session-count": p.success,
                    "total-failure-session-count": failed,
                },
                "failure-details": details,
            })
        })
        .collect();
    json!({
        "organization-name": submitter,
        "date-range": {
            "start-datetime": format!("{d}T00:00:00Z"),
            "end-datetime": format!("{d}T23:59:59Z"),
        },
        "contact-info": format!("postmaster@{submitter}"),
        "report-id": report_id,
        "policies": policies,
    })
    .to_string()
}

/// The report message (RFC 8460 §5.3): multipart/report with report-type "tlsrpt".
pub fn report_message(
    submitter: &str,
    day: u32,
    domain: &str,
    to: &[String],
    json: &str,
    report_id: &str,
    now: i64,
) -> Result<Vec<u8>, String> {
    let d = date(day);
    let subject =
        format!("Report Domain: {domain} Submitter: {submitter} Report-ID: <{report_id}>");
    // §5.1: filename = sender "!" policy-domain "!" begin "!" end [ "!" unique ] ".json"
    let filename = format!(
        "{submitter}!{domain}!{}!{}!{report_id}.json",
        i64::from(day) * 86_400,
        i64::from(day) * 86_400 + 86_399
    );
    let text = format!(
        "This is an aggregate TLS report (RFC 8460) from {submitter} about the TLS sessions it \
         made on {d} to mail servers of {domain}.\r\n"
    );
    let parts = vec![
        MimePart::new("text/plain", text),
        MimePart::new(
            ContentType::new("application/tlsrpt+json"),
            BodyPart::Text(json.to_string().into()),
        )
        .attachment(filename),
    ];
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "tlsrpt"),
        parts,
    );
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    MessageBuilder::new()
        .from(("TLS reports", format!("postmaster@{submitter}").as_str()))
        .to(to)
        .subject(subject)
        .date(now)
        .message_id(format!("{report_id}@{submitter}"))
        .header("TLS-Report-Domain", Raw::new(domain.to_string()))
        .header("TLS-Report-Submitter", Raw::new(submitter.to_string()))
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .body(body)
        .write_to_vec()
        .map_err(|e| format!("cannot build the TLS report: {e}"))
}

/// Sends the reports of every finished day (when `send`), or forgets counts older than
/// [`KEEP_DAYS`] (when not). Each report goes in as a new inbound record through `enqueue`
/// (the inbound queue's `Enqueue`: committed when it answers); a day's counts are forgotten
/// only after its report is in, so a crash in between sends it twice rather than never.
/// Returns the ids of the records made.
pub async fn send_due<F, Fut>(
    store: &Store,
    resolver: &Resolver,
    submitter: &str,
    now: i64,
    send: bool,
    enqueue: F,
) -> Result<Vec<QueueId>, StorageError>
where
    F: Fn(QueueRecord) -> Fut,
    Fut: std::future::Future<Output = Result<QueueId, StorageError>>,
{
    let today = day_of(now);
    let mut made = Vec::new();
    for (day, domain, counts) in store.tlsrpt_list()? {
        if day >= today {
            continue;
        }
        if !send {
            if day + KEEP_DAYS < today {
                store.tlsrpt_remove(day, &domain)?;
            }
            continue;
        }
        let to = match rua(resolver, &domain).await {
            Ok(to) => to,
            Err(e) => {
                // DNS trouble: try again at the next round (the counts stay).
                tracing::info!(%domain, "no TLS report sent yet: {e}");
                continue;
            }
        };
        if !to.is_empty() {
            let id = store.next_queue_id()?;
            let report_id = format!("{}.{id:016X}", date(day));
            let json = report_json(submitter, day, &domain, &counts, &report_id);
            let bytes = report_message(submitter, day, &domain, &to, &json, &report_id, now)
                .map_err(StorageError::Invalid)?;
            // A body put waits for its sync round: on the blocking pool, not this thread.
            let blob = {
                let (store, bytes) = (store.clone(), bytes.clone());
                tokio::task::spawn_blocking(move || store.blobs().put(&bytes))
                    .await
                    .map_err(|e| StorageError::Io(std::io::Error::other(e.to_string())))??
            };
            enqueue(QueueRecord {
                id,
                queue: QueueName::Inbound,
                blob,
                size: bytes.len() as u64,
                mail_from: String::new(),
                recipients: to.iter().map(|a| QueueRecipient::new(a)).collect(),
                params: Default::default(),
                received_at: now,
                due: None,
                attempts: 0,
                last_error: None,
                origin: format!("TLS report for {domain}"),
                auth_as: None,
                folder: None,
                history: Vec::new(),
            })
            .await?;
            made.push(id);
        }
        store.tlsrpt_remove(day, &domain)?;
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rua_records() {
        assert_eq!(
            parse_rua("v=TLSRPTv1; rua=mailto:reports@example.com,https://r.example.com/x"),
            Ok(vec!["reports@example.com".to_string()])
        );
        assert_eq!(
            parse_rua("v=TLSRPTv1;rua=mailto:a@x.test?subject=1, mailto:b@y.test"),
            Ok(vec!["a@x.test".to_string(), "b@y.test".to_string()])
        );
        assert!(parse_rua("v=TLSRPTv2; rua=mailto:a@b").is_err());
        assert!(parse_rua("v=TLSRPTv1;").is_err());
    }

    #[test]
    fn report_follows_the_schema() {
        let mut counts = Vec::new();
        let base = TlsResult {
            policy_type: "sts".into(),
            policy_string: vec!["version: STSv1".into(), "mode: testing".into()],
            mx_host: vec!["*.remote.test".into()],
            failure: None,
        };
        crate::storage::add_result(&mut counts, &base);
        crate::storage::add_result(
            &mut counts,
            &TlsResult {
                failure: failure(
                    "certificate-host-mismatch",
                    "mx.remote.test",
                    "127.0.0.1",
                    "",
                ),
                ..base.clone()
            },
        );
        let day = day_of(1_800_000_000);
        assert_eq!(date(day), "2027-01-15");
        let j = report_json("mx.example.com", day, "remote.test", &counts, "r1");
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["date-range"]["start-datetime"], "2027-01-15T00:00:00Z");
        let p = &v["policies"][0];
        assert_eq!(p["policy"]["policy-domain"], "remote.test");
        assert_eq!(p["summary"]["total-successful-session-count"], 1);
        assert_eq!(p["summary"]["total-failure-session-count"], 1);
        let f = &p["failure-details"][0];
        assert_eq!(f["result-type"], "certificate-host-mismatch");
        assert_eq!(f["receiving-ip"], "127.0.0.1");
        assert!(
            f.get("additional-information").is_none(),
            "empty fields are left out"
        );
        let m = report_message(
            "mx.example.com",
            day,
            "remote.test",
            &["r@remote.test".into()],
            &j,
            "r1",
            1_800_000_000,
        )
        .unwrap();
        let m = String::from_utf8_lossy(&m);
        assert!(
            m.contains("report-type=\"tlsrpt\"") || m.contains("report-type=tlsrpt"),
            "{m}"
        );
        assert!(m.contains("TLS-Report-Domain: remote.test"));
        assert!(m.contains("application/tlsrpt+json"));
    }
}
