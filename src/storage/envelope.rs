//! Typed envelope parameters of a queue record: RFC 6152 `BODY=`, RFC 3461 `RET=` and
//! `NOTIFY=`. The SMTP codec has its own types for them; storage keeps these so that it does
//! not depend on the protocol layer (docs/architecture.md §2), and the accept decision maps
//! one to the other.
//!
//! On disk each value is the string earlier builds stored (bincode of `Option<String>`), so a
//! data directory written before these types existed still opens, and one written now opens
//! in such a build: `BODY` as "SevenBit"/"EightBitMime"/"BinaryMime", `RET` as "FULL"/"HDRS",
//! `NOTIFY` as the keywords in the client's order, upper case, comma separated.

use std::fmt;

use serde::{Deserialize, Serialize};

/// RFC 6152 / RFC 3030 `BODY=` of the received message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum BodyType {
    #[default]
    SevenBit,
    EightBitMime,
    BinaryMime,
}

impl BodyType {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::SevenBit => "SevenBit",
            BodyType::EightBitMime => "EightBitMime",
            BodyType::BinaryMime => "BinaryMime",
        }
    }
}

impl From<BodyType> for String {
    fn from(b: BodyType) -> String {
        b.as_str().to_string()
    }
}

impl TryFrom<String> for BodyType {
    type Error = String;

    fn try_from(s: String) -> Result<BodyType, String> {
        [
            BodyType::SevenBit,
            BodyType::EightBitMime,
            BodyType::BinaryMime,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
        .ok_or_else(|| format!("unknown BODY value {s:?} in a queue record"))
    }
}

/// RFC 3461 §4.3 `RET=`: what a failure report returns of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum DsnRet {
    Full,
    Hdrs,
}

impl DsnRet {
    /// The keyword, as on the wire and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            DsnRet::Full => "FULL",
            DsnRet::Hdrs => "HDRS",
        }
    }
}

impl From<DsnRet> for String {
    fn from(r: DsnRet) -> String {
        r.as_str().to_string()
    }
}

impl TryFrom<String> for DsnRet {
    type Error = String;

    fn try_from(s: String) -> Result<DsnRet, String> {
        match s.trim() {
            k if k.eq_ignore_ascii_case("FULL") => Ok(DsnRet::Full),
            k if k.eq_ignore_ascii_case("HDRS") => Ok(DsnRet::Hdrs),
            _ => Err(format!("unknown RET value {s:?} in a queue record")),
        }
    }
}

/// One RFC 3461 §4.1 `NOTIFY=` keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsnNotify {
    Never,
    Success,
    Failure,
    Delay,
}

impl DsnNotify {
    /// The keyword, as on the wire and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            DsnNotify::Never => "NEVER",
            DsnNotify::Success => "SUCCESS",
            DsnNotify::Failure => "FAILURE",
            DsnNotify::Delay => "DELAY",
        }
    }

    fn parse(keyword: &str) -> Option<DsnNotify> {
        [
            DsnNotify::Never,
            DsnNotify::Success,
            DsnNotify::Failure,
            DsnNotify::Delay,
        ]
        .into_iter()
        .find(|n| keyword.trim().eq_ignore_ascii_case(n.as_str()))
    }
}

/// A recipient's `NOTIFY=` list, in the order the client gave it (passed on in that order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct NotifyList(Vec<DsnNotify>);

impl NotifyList {
    pub fn new(keywords: Vec<DsnNotify>) -> NotifyList {
        NotifyList(keywords)
    }

    pub fn keywords(&self) -> &[DsnNotify] {
        &self.0
    }

    /// Whether the list names `keyword`.
    pub fn contains(&self, keyword: DsnNotify) -> bool {
        self.0.contains(&keyword)
    }
}

impl fmt::Display for NotifyList {
    /// The wire and disk form: "SUCCESS,FAILURE".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(n.as_str())?;
        }
        Ok(())
    }
}

impl From<NotifyList> for String {
    fn from(n: NotifyList) -> String {
        n.to_string()
    }
}

impl TryFrom<String> for NotifyList {
    type Error = String;

    fn try_from(s: String) -> Result<NotifyList, String> {
        s.split(',')
            .map(|k| {
                DsnNotify::parse(k)
                    .ok_or_else(|| format!("unknown NOTIFY value {s:?} in a queue record"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(NotifyList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for b in [
            BodyType::SevenBit,
            BodyType::EightBitMime,
            BodyType::BinaryMime,
        ] {
            assert_eq!(BodyType::try_from(String::from(b)), Ok(b));
        }
        assert_eq!(String::from(DsnRet::Hdrs), "HDRS");
        assert_eq!(DsnRet::try_from("FULL".to_string()), Ok(DsnRet::Full));
        let n = NotifyList::try_from("DELAY,FAILURE".to_string()).unwrap();
        assert_eq!(n.keywords(), &[DsnNotify::Delay, DsnNotify::Failure]);
        assert_eq!(n.to_string(), "DELAY,FAILURE");
        assert!(n.contains(DsnNotify::Failure) && !n.contains(DsnNotify::Success));
    }

    #[test]
    fn unknown_spellings_are_errors() {
        assert!(BodyType::try_from("8BITMIME".to_string()).is_err());
        assert!(DsnRet::try_from("ALL".to_string()).is_err());
        assert!(NotifyList::try_from("SUCCESS,SOMETIMES".to_string()).is_err());
        assert!(NotifyList::try_from(String::new()).is_err());
    }

    /// The shape of a queue record as builds before these types stored it, with the
    /// parameters as the `format!("{x:?}")` strings those builds wrote.
    #[derive(Serialize)]
    struct StringRecord {
        id: u64,
        queue: crate::storage::QueueName,
        blob: crate::storage::BlobId,
        size: u64,
        mail_from: String,
        recipients: Vec<StringRecipient>,
        params: StringParams,
        received_at: i64,
        due: Option<i64>,
        attempts: u32,
        last_error: Option<String>,
        origin: String,
        auth_as: Option<String>,
        folder: Option<String>,
    }

    #[derive(Serialize)]
    struct StringRecipient {
        address: String,
        original: String,
        orcpt: Option<String>,
        notify: Option<String>,
        delivered: bool,
        last_error: Option<String>,
    }

    #[derive(Serialize)]
    struct StringParams {
        body: Option<String>,
        smtputf8: bool,
        ret: Option<String>,
        envid: Option<String>,
        requiretls: bool,
    }

    /// A record stored the old way (bincode, as the store encodes values) decodes into the
    /// typed values, and encodes back to the very same bytes.
    #[test]
    fn records_stored_with_strings_decode_to_the_same_bytes() {
        use crate::storage::{EnvelopeParams, QueueRecord};
        let rcpt = |address: &str, notify: Option<&str>| StringRecipient {
            address: address.into(),
            original: address.into(),
            orcpt: Some(format!("rfc822;{address}")),
            notify: notify.map(str::to_string),
            delivered: false,
            last_error: None,
        };
        let old = StringRecord {
            id: 7,
            queue: crate::storage::QueueName::Remote,
            blob: crate::storage::BlobId([3; 32]),
            size: 42,
            mail_from: "alice@example.org".into(),
            recipients: vec![
                rcpt("a@remote.test", Some("DELAY,FAILURE")),
                rcpt("b@remote.test", Some("NEVER")),
                rcpt("c@remote.test", None),
            ],
            params: StringParams {
                body: Some("EightBitMime".into()),
                smtputf8: true,
                ret: Some("HDRS".into()),
                envid: Some("QQ314".into()),
                requiretls: true,
            },
            received_at: 1_700_000_000,
            due: None,
            attempts: 1,
            last_error: None,
            origin: "ESMTPS from mx [192.0.2.1] tls".into(),
            auth_as: None,
            folder: None,
        };
        // The record has since gained its delivery history, last: an empty one (a length of
        // zero) after the old fields is today's layout (older layouts themselves are
        // `storage::queue_codec`'s to read, and its tests').
        let with_history = |old: &StringRecord| {
            let mut bytes = bincode::serialize(old).unwrap();
            bytes.extend([0u8; 8]);
            bytes
        };
        let bytes = with_history(&old);
        let rec: QueueRecord = bincode::deserialize(&bytes).unwrap();
        assert_eq!(
            rec.params,
            EnvelopeParams {
                body: Some(BodyType::EightBitMime),
                smtputf8: true,
                ret: Some(DsnRet::Hdrs),
                envid: Some("QQ314".into()),
                requiretls: true,
            }
        );
        let notify: Vec<_> = rec.recipients.iter().map(|r| r.notify.clone()).collect();
        assert_eq!(
            notify,
            [
                Some(NotifyList::new(vec![DsnNotify::Delay, DsnNotify::Failure])),
                Some(NotifyList::new(vec![DsnNotify::Never])),
                None,
            ]
        );
        assert_eq!(bincode::serialize(&rec).unwrap(), bytes);

        let mut bad = old;
        bad.params.ret = Some("Hdrs?".into());
        assert!(bincode::deserialize::<QueueRecord>(&with_history(&bad)).is_err());
    }
}
