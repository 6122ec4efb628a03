use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::*;
use crate::config::{Config, Network};
use crate::mailauth::results::{DmarcCheck, DmarcPolicy, Verdict as AuthVerdict};
use crate::protocols::smtp::{DsnNotify, DsnRet, PeerInfo, Recipient};
use crate::storage::{SenderRights, StorageError};

const HOST: &str = "mx.example.com";

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope {
        mail_from: "alice@example.org".into(),
        recipients: rcpts
            .iter()
            .map(|r| Recipient {
                address: r.to_string(),
                notify: None,
                orcpt: None,
            })
            .collect(),
        body: b"From: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n".to_vec(),
        size_declared: None,
        body_type: smtp::BodyType::SevenBit,
        smtputf8: false,
        ret: None,
        envid: None,
        requiretls: false,
        auth_as: None,
        helo: "client.example.org".into(),
        tls: false,
        peer: PeerInfo {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            port: 40000,
            session_id: "S1".into(),
        },
        protocol: "ESMTP",
    }
}

fn auth_config() -> AuthConfig {
    let mut config = Config::parse("", Path::new("/"), None).expect("defaults");
    config.auth.verify = true;
    config.auth.trusted_networks.clear();
    config.auth
}

/// A summary whose DMARC result is `verdict` under `policy` for example.org.
fn summary(verdict: AuthVerdict, policy: DmarcPolicy) -> AuthSummary {
    AuthSummary {
        spf_helo: None,
        spf_mail_from: (AuthVerdict::Fail, "alice@example.org".into()),
        dkim: Vec::new(),
        arc: AuthVerdict::None,
        dmarc: DmarcCheck {
            verdict,
            from_domain: Some("example.org".into()),
            policy,
        },
    }
}

fn stored() -> StoredBody {
    StoredBody {
        id: 0x2A,
        blob: BlobId([9; 32]),
        size: 123,
    }
}

#[test]
fn dmarc_reject_refuses_when_enforcing() {
    let s = summary(AuthVerdict::Fail, DmarcPolicy::Reject);
    let refused = judge(&s, HOST, DmarcEnforcement::Enforce, "alice@example.org");
    let Err(EnqueueError::PolicyRejected(reason)) = refused else {
        panic!("expected a policy refusal, got {refused:?}");
    };
    assert!(
        reason.contains("example.org asks receivers to reject"),
        "{reason}"
    );
}

#[test]
fn dmarc_quarantine_goes_to_junk() {
    let s = summary(AuthVerdict::Fail, DmarcPolicy::Quarantine);
    let checks = judge(&s, HOST, DmarcEnforcement::Enforce, "alice@example.org").unwrap();
    assert_eq!(checks.folder.as_deref(), Some(JUNK));
    assert!(checks
        .header
        .starts_with("Authentication-Results: mx.example.com;"));
    assert!(checks.header.contains("dmarc=fail"), "{}", checks.header);

    let rec = queue_record(
        &envelope(&["bob@example.com"]),
        stored(),
        checks.folder,
        false,
        1,
    );
    assert_eq!(rec.folder.as_deref(), Some("Junk"));
}

#[test]
fn dmarc_none_or_not_enforced_delivers_with_the_header() {
    let cases = [
        (
            AuthVerdict::Fail,
            DmarcPolicy::None,
            DmarcEnforcement::Enforce,
        ),
        (
            AuthVerdict::Fail,
            DmarcPolicy::Reject,
            DmarcEnforcement::Off,
        ),
        (
            AuthVerdict::Fail,
            DmarcPolicy::Quarantine,
            DmarcEnforcement::Off,
        ),
        (
            AuthVerdict::Pass,
            DmarcPolicy::Reject,
            DmarcEnforcement::Enforce,
        ),
        (
            AuthVerdict::TempError,
            DmarcPolicy::Reject,
            DmarcEnforcement::Enforce,
        ),
    ];
    for (verdict, policy, enforcement) in cases {
        let s = summary(verdict, policy);
        let checks = judge(&s, HOST, enforcement, "alice@example.org").unwrap();
        assert_eq!(
            checks.folder, None,
            "{verdict:?} {policy:?} {enforcement:?}"
        );
        assert_eq!(checks.header, results::format_header(HOST, &s));
    }
}

#[test]
fn only_unauthenticated_mail_on_the_smtp_port_is_verified() {
    let auth = auth_config();
    let env = envelope(&["bob@example.com"]);
    assert!(wants_verification(&auth, Service::Smtp, &env));
    assert!(!wants_verification(&auth, Service::Submission, &env));
    assert!(!wants_verification(&auth, Service::Smtps, &env));

    let mut authenticated = env.clone();
    authenticated.auth_as = Some("bob@example.com".into());
    assert!(!wants_verification(&auth, Service::Smtp, &authenticated));

    let mut trusting = auth.clone();
    trusting.trusted_networks = vec![Network::parse("192.0.2.0/24").unwrap()];
    assert!(!wants_verification(&trusting, Service::Smtp, &env));

    let mut off = auth;
    off.verify = false;
    assert!(!wants_verification(&off, Service::Smtp, &env));
}

#[test]
fn forged_results_with_our_name_are_removed() {
    let mut env = envelope(&["bob@example.com"]);
    env.body = b"Authentication-Results: mx.example.com; dmarc=pass\r\nSubject: x\r\n\r\nbody\r\n"
        .to_vec();
    strip_forged_results(&mut env, HOST);
    assert_eq!(env.body, b"Subject: x\r\n\r\nbody\r\n");
    let other = b"Authentication-Results: elsewhere.test; dmarc=pass\r\n\r\nbody\r\n".to_vec();
    env.body = other.clone();
    strip_forged_results(&mut env, HOST);
    assert_eq!(env.body, other);
}

#[test]
fn requiretls_from_mail_from_or_a_recipient_tag() {
    let env = envelope(&["bob@example.com", "carol@remote.test"]);
    let rec = queue_record(&env, stored(), None, true, 1);
    assert!(!rec.params.requiretls);

    let mut asked = env.clone();
    asked.requiretls = true;
    assert!(
        queue_record(&asked, stored(), None, true, 1)
            .params
            .requiretls
    );

    let tagged = envelope(&["bob@example.com", "carol+RequireTLS@remote.test"]);
    let rec = queue_record(&tagged, stored(), None, true, 1);
    assert!(rec.params.requiretls);
    let addresses: Vec<(&str, &str)> = rec
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.original.as_str()))
        .collect();
    assert_eq!(
        addresses,
        [
            ("bob@example.com", "bob@example.com"),
            ("carol@remote.test", "carol+RequireTLS@remote.test"),
        ]
    );
}

#[test]
fn the_record_carries_typed_envelope_parameters() {
    let mut env = envelope(&["bob@example.com", "carol@remote.test"]);
    env.body_type = smtp::BodyType::EightBitMime;
    env.smtputf8 = true;
    env.ret = Some(DsnRet::Hdrs);
    env.envid = Some("QQ314".into());
    env.auth_as = Some("alice@example.org".into());
    env.recipients[0].notify = Some(vec![DsnNotify::Delay, DsnNotify::Failure]);
    env.recipients[0].orcpt = Some("rfc822;bob@example.com".into());
    env.recipients[1].notify = Some(vec![DsnNotify::Never]);
    let rec = queue_record(&env, stored(), None, true, 1_700_000_000);
    assert_eq!(
        rec.params,
        EnvelopeParams {
            body: Some(storage::BodyType::EightBitMime),
            smtputf8: true,
            ret: Some(storage::DsnRet::Hdrs),
            envid: Some("QQ314".into()),
            requiretls: false,
        }
    );
    let notify = |i: usize| rec.recipients[i].notify.as_ref().map(|n| n.to_string());
    assert_eq!(notify(0).as_deref(), Some("DELAY,FAILURE"));
    assert_eq!(notify(1).as_deref(), Some("NEVER"));
    assert_eq!(
        rec.recipients[0].orcpt.as_deref(),
        Some("rfc822;bob@example.com")
    );
    assert_eq!(
        (rec.id, rec.blob, rec.size, rec.received_at),
        (0x2A, BlobId([9; 32]), 123, 1_700_000_000)
    );
    assert_eq!(rec.queue, storage::QueueName::Inbound);
    assert_eq!(rec.auth_as.as_deref(), Some("alice@example.org"));
    assert_eq!(rec.origin, "ESMTP from client.example.org [192.0.2.7] tls");
    assert_eq!(rec.folder, None);
    assert!(rec.recipients.iter().all(|r| !r.delivered));

    let plain = queue_record(&envelope(&["bob@example.com"]), stored(), None, false, 1);
    assert_eq!(plain.origin, "ESMTP from client.example.org [192.0.2.7]");
    assert_eq!(plain.params.body, Some(storage::BodyType::SevenBit));
    assert_eq!(
        (plain.params.ret, plain.recipients[0].notify.clone()),
        (None, None)
    );
}

/// Bob may use his own address and whatever `send_as` lists; the directory fails for
/// "broken@example.com".
struct Directory {
    send_as: Vec<String>,
}

impl SenderDirectory for Directory {
    fn identity(&self, account: &str) -> Result<Option<(bool, SenderRights)>, StorageError> {
        match account {
            "bob@example.com" => Ok(Some((
                false,
                SenderRights {
                    send_as: self.send_as.clone(),
                    domains: Vec::new(),
                },
            ))),
            "broken@example.com" => Err(StorageError::Io(std::io::Error::other("disk gone"))),
            _ => Ok(None),
        }
    }

    fn delivers_to(&self, address: &str, account: &str) -> Result<bool, StorageError> {
        Ok(address == account)
    }
}

fn from(user: Option<&str>, header_from: &str) -> Envelope {
    let mut env = envelope(&["carol@remote.test"]);
    env.auth_as = user.map(str::to_string);
    env.body = format!("From: {header_from}\r\nSubject: hi\r\n\r\nhello\r\n").into_bytes();
    env
}

#[test]
fn authenticated_senders_may_use_only_their_addresses() {
    let dir = Directory {
        send_as: vec!["sales@example.com".into()],
    };
    let bob = Some("bob@example.com");
    assert_eq!(
        check_header_senders(&dir, &from(bob, "bob@example.com")),
        Ok(())
    );
    assert_eq!(
        check_header_senders(&dir, &from(bob, "Sales <sales@example.com>")),
        Ok(())
    );
    let refused = check_header_senders(&dir, &from(bob, "ceo@example.com"));
    let Err(EnqueueError::SenderRefused(reason)) = refused else {
        panic!("expected a sender refusal, got {refused:?}");
    };
    assert!(reason.contains("<ceo@example.com>"), "{reason}");
    assert!(
        reason.contains("not owned by user bob@example.com"),
        "{reason}"
    );

    let nobody = Some("ghost@example.com");
    assert!(matches!(
        check_header_senders(&dir, &from(nobody, "ghost@example.com")),
        Err(EnqueueError::SenderRefused(_))
    ));
}

#[test]
fn unauthenticated_mail_is_not_held_to_sender_rights() {
    let dir = Directory {
        send_as: Vec::new(),
    };
    assert_eq!(
        check_header_senders(&dir, &from(None, "ceo@example.com")),
        Ok(())
    );
}

#[test]
fn storage_failures_answer_temporarily_or_as_a_full_disk() {
    let dir = Directory {
        send_as: Vec::new(),
    };
    let broken = check_header_senders(&dir, &from(Some("broken@example.com"), "x@example.com"));
    assert_eq!(
        broken,
        Err(EnqueueError::Temporary("local error in processing".into()))
    );
    let full = StorageError::Io(std::io::Error::from_raw_os_error(libc::ENOSPC));
    assert_eq!(storage_to_enqueue(full), EnqueueError::InsufficientStorage);
}

#[test]
fn stored_content_puts_the_checks_and_trace_fields_on_top_and_signs_submissions() {
    let (_dir, store) = crate::storage::testutil::store();
    store.add_domain("example.org").unwrap();
    let signer = Signer::default();
    let env = from(Some("alice@example.org"), "alice@example.org");
    let received = "Received: from client.example.org\r\n";
    let checks = "Authentication-Results: mx.example.com; none\r\n";
    let unsigned = stored_content(&store, &signer, checks, received, None, &env.body);
    assert_eq!(
        unsigned,
        [checks.as_bytes(), received.as_bytes(), &env.body].concat()
    );

    // No key for the domain yet: the submission goes unsigned.
    let user = env.auth_as.as_deref();
    let content = stored_content(&store, &signer, "", received, user, &env.body);
    assert_eq!(content, [received.as_bytes(), &env.body].concat());

    let algorithm = storage::DkimAlgorithm::Ed25519;
    crate::mailauth::keys::generate(&store, "example.org", algorithm, Some("s1"), 1).unwrap();
    let content = stored_content(&store, &signer, "", received, user, &env.body);
    let text = String::from_utf8(content).unwrap();
    let signature = text.strip_prefix(received).expect("Received first");
    assert!(signature.starts_with("DKIM-Signature: "), "{text}");
    assert!(
        signature.contains("d=example.org") && signature.contains("s=s1"),
        "{text}"
    );
    assert!(text.ends_with("From: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n"));
}
