use super::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::crypto::ring::default_provider;

struct Chain {
    leaf: CertificateDer<'static>,
    ca: CertificateDer<'static>,
    leaf_spki: Vec<u8>,
}

/// A CA and a leaf for `name` issued by it.
fn chain(name: &str) -> Chain {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    Chain {
        leaf: leaf.der().clone(),
        ca: ca.der().clone(),
        leaf_spki: leaf_key.public_key_der(),
    }
}

fn rec(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Tlsa {
    Tlsa {
        usage,
        selector,
        matching,
        data,
    }
}

fn check(records: &[Tlsa], c: &Chain, host: &str) -> Result<String, String> {
    verify_chain(
        records,
        &c.leaf,
        std::slice::from_ref(&c.ca),
        &ServerName::try_from(host.to_string()).unwrap(),
        UnixTime::now(),
        &Arc::new(default_provider()),
    )
}

#[test]
fn spki_is_found_in_the_certificate() {
    let c = chain("mx.remote.test");
    assert_eq!(spki(&c.leaf).map(<[u8]>::to_vec), Some(c.leaf_spki.clone()));
    assert_eq!(spki(b"\x30\x03\x02\x01\x01"), None, "not a certificate");
    assert_eq!(spki(&c.leaf[..c.leaf.len() / 2]), None, "truncated");
}

#[test]
fn dane_ee_matches_key_or_certificate_without_name_checks() {
    let c = chain("mx.remote.test");
    let spki_sha256 = Sha256::digest(&c.leaf_spki).to_vec();
    let cert_sha512 = Sha512::digest(&c.leaf).to_vec();
    // 3 1 1: the key, any host name (RFC 7672 §3.1.1: no name checks for DANE-EE).
    assert!(check(&[rec(3, 1, 1, spki_sha256.clone())], &c, "other.name").is_ok());
    assert!(check(&[rec(3, 0, 2, cert_sha512)], &c, "mx.remote.test").is_ok());
    assert!(check(&[rec(3, 0, 0, c.leaf.to_vec())], &c, "mx.remote.test").is_ok());
    let mut wrong = spki_sha256;
    wrong[0] ^= 1;
    assert!(check(&[rec(3, 1, 1, wrong)], &c, "mx.remote.test").is_err());
    // 3 1 1 of another key
    let other = chain("mx.remote.test");
    let other_rec = rec(3, 1, 1, Sha256::digest(&other.leaf_spki).to_vec());
    assert!(check(&[other_rec], &c, "mx.remote.test").is_err());
}

#[test]
fn dane_ta_needs_a_valid_chain_for_the_name() {
    let c = chain("mx.remote.test");
    let ta = rec(2, 0, 1, Sha256::digest(&c.ca).to_vec());
    assert!(check(std::slice::from_ref(&ta), &c, "mx.remote.test").is_ok());
    assert!(
        check(std::slice::from_ref(&ta), &c, "wrong.remote.test").is_err(),
        "DANE-TA checks the name"
    );
    let ta_spki = rec(2, 1, 1, Sha256::digest(spki(&c.ca).unwrap()).to_vec());
    assert!(check(&[ta_spki], &c, "mx.remote.test").is_ok());
    // The leaf's hash as a TA record does not make the leaf its own anchor.
    let leaf_as_ta = rec(2, 0, 1, Sha256::digest(&c.leaf).to_vec());
    assert!(check(&[leaf_as_ta], &c, "mx.remote.test").is_err());
}

#[test]
fn pkix_usages_are_unusable() {
    let c = chain("mx.remote.test");
    let pkix_ee = rec(1, 1, 1, Sha256::digest(&c.leaf_spki).to_vec());
    assert!(!pkix_ee.usable());
    // Only unusable records: TLS without authentication (RFC 7672 §2.2).
    let r = check(&[pkix_ee], &c, "mx.remote.test").unwrap();
    assert!(r.contains("no usable"), "{r}");
    assert!(!rec(3, 2, 1, vec![]).usable());
    assert!(!rec(3, 1, 3, vec![]).usable());
}

#[test]
fn answers_count_only_with_the_ad_bit() {
    use hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
    use hickory_resolver::proto::rr::Record;
    let name = tlsa_name("mx.remote.test", 25);
    assert_eq!(name, "_25._tcp.mx.remote.test.");
    let mut m = Message::response(7, OpCode::Query);
    m.add_answer(Record::from_rdata(
        Name::from_ascii(&name).unwrap(),
        60,
        RData::TLSA(TLSA::new(
            CertUsage::from(3),
            Selector::from(1),
            Matching::from(1),
            vec![1, 2, 3],
        )),
    ));
    assert_eq!(answer(&m, &name), Ok(TlsaAnswer::Insecure));
    m.metadata.authentic_data = true;
    assert_eq!(
        answer(&m, &name),
        Ok(TlsaAnswer::Secure(vec![rec(3, 1, 1, vec![1, 2, 3])]))
    );
    assert_eq!(rec(3, 1, 1, vec![0xab]).to_string(), "3 1 1 ab");
    m.metadata.response_code = ResponseCode::ServFail;
    assert!(
        answer(&m, &name).is_err(),
        "bogus data: the host is not used"
    );
    m.metadata.response_code = ResponseCode::NXDomain;
    assert_eq!(answer(&m, &name), Ok(TlsaAnswer::Insecure));
}
