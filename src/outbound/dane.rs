//! DANE for SMTP (RFC 7672, on RFC 6698): TLSA records of an MX host, and a certificate
//! verifier that checks the peer against them.
//!
//! Where the DNSSEC proof comes from: the resolver in the tree (hickory 0.26) validates only
//! with its `dnssec-*` features, which pull a second crypto stack into the build; instead the
//! server trusts the AD bit (RFC 4035 §3.2.3, RFC 6840 §5.7) of the name servers configured in
//! `[dns] nameservers` when `[dns] trust_ad = true` — a validating resolver the operator runs
//! on a trusted path (e.g. unbound on this machine). TLSA queries are sent to it directly with
//! AD set in the query, and only answers with AD set count. Without `trust_ad` there is no
//! DANE. Deviation: the MX and address lookups themselves are not checked for AD (RFC 7672 §2.2
//! asks for a secure MX RRset too).
//!
//! Usable records (RFC 7672 §3.1): DANE-EE (3) matches the end-entity certificate or its
//! public key, with no name or expiry checks (§3.1.1); DANE-TA (2) names a trust anchor in
//! the chain the server sends, and the chain must validate to it with the MX host name
//! (§3.1.2). PKIX-TA/PKIX-EE (0, 1) are unusable for SMTP (§3.1.3). When TLSA records exist but
//! none is usable, TLS is still required, unauthenticated (§2.2).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256, Sha512};

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

impl std::fmt::Display for Tlsa {
    /// Presentation format (RFC 6698 §2.2).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            hex::encode(&self.data)
        )
    }
}

impl Tlsa {
    /// RFC 7672 §3.1: DANE-TA(2) and DANE-EE(3) with a known selector and matching type.
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }

    /// Does `cert` (DER) match this record's selector and matching type?
    pub fn matches(&self, cert: &[u8]) -> bool {
        let selected = match self.selector {
            0 => cert,
            1 => match spki(cert) {
                Some(s) => s,
                None => return false,
            },
            _ => return false,
        };
        match self.matching {
            0 => selected == self.data.as_slice(),
            1 => Sha256::digest(selected).as_slice() == self.data.as_slice(),
            2 => Sha512::digest(selected).as_slice() == self.data.as_slice(),
            _ => false,
        }
    }
}

/// The TLSA owner name for an MX host and port (RFC 6698 §3, RFC 7672 §2.2.1).
pub fn tlsa_name(host: &str, port: u16) -> String {
    format!("_{port}._tcp.{}.", host.trim_end_matches('.'))
}

/// A TLSA answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsaAnswer {
    /// No records, or records that are not DNSSEC-authenticated: no DANE for this host.
    Insecure,
    /// DNSSEC-authenticated records (RFC 7672 §2.2: "secure").
    Secure(Vec<Tlsa>),
}

/// Why a TLSA lookup failed (RFC 7672 §2.2: the host must then not be used).
pub type TlsaError = String;

/// Looks up the TLSA records at `name` by asking `server` directly with the AD bit set
/// (RFC 6840 §5.7), over UDP, within `timeout`. SERVFAIL (which a validating resolver answers
/// for bogus data) and timeouts are errors; NXDOMAIN, NODATA and answers without AD are
/// [`TlsaAnswer::Insecure`].
pub async fn lookup(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<TlsaAnswer, TlsaError> {
    answer(&query(server, name, timeout).await?, name)
}

/// How long the console waits for a TLSA answer.
pub const TLSA_CONSOLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLSA records at `name` whatever their DNSSEC status, and whether the answer had the
/// AD bit (for the console).
pub async fn lookup_raw(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<(Vec<Tlsa>, bool), TlsaError> {
    let reply = query(server, name, timeout).await?;
    match answer(&reply, name)? {
        TlsaAnswer::Secure(records) => Ok((records, true)),
        TlsaAnswer::Insecure => Ok((records(&reply), false)),
    }
}

async fn query(server: SocketAddr, name: &str, timeout: Duration) -> Result<Message, TlsaError> {
    let owner = Name::from_ascii(name).map_err(|e| format!("{name}: {e}"))?;
    let id: u16 = rand::random();
    let mut query = Message::query();
    query.metadata.id = id;
    query.metadata.recursion_desired = true;
    query.metadata.authentic_data = true;
    query.add_query(Query::query(owner, RecordType::TLSA));
    let bytes = query.to_vec().map_err(|e| e.to_string())?;
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let exchange = async {
        let sock = tokio::net::UdpSocket::bind(bind).await?;
        sock.connect(server).await?;
        sock.send(&bytes).await?;
        let mut buf = vec![0u8; 4096];
        // Bounded by the timeout around it; answers with another id are ignored.
        loop {
            let n = sock.recv(&mut buf).await?;
            if let Ok(m) = Message::from_vec(&buf[..n]) {
                if m.metadata.id == id && m.metadata.message_type == MessageType::Response {
                    return Ok::<Message, std::io::Error>(m);
                }
            }
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(format!("TLSA lookup for {name}: {e}")),
        Err(_) => Err(format!("TLSA lookup for {name}: timed out")),
    }
}

/// The TLSA records in the answer section of `reply`.
fn records(reply: &Message) -> Vec<Tlsa> {
    reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TLSA(t) => Some(Tlsa {
                usage: t.cert_usage.into(),
                selector: t.selector.into(),
                matching: t.matching.into(),
                data: t.cert_data.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Reads a reply to a TLSA query.
pub fn answer(reply: &Message, name: &str) -> Result<TlsaAnswer, TlsaError> {
    if reply.metadata.op_code != OpCode::Query {
        return Err(format!("TLSA lookup for {name}: unexpected reply"));
    }
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(TlsaAnswer::Insecure),
        rc => return Err(format!("TLSA lookup for {name}: {rc}")),
    }
    if reply.metadata.truncation {
        return Err(format!("TLSA lookup for {name}: truncated answer"));
    }
    let records = records(reply);
    if records.is_empty() || !reply.metadata.authentic_data {
        return Ok(TlsaAnswer::Insecure);
    }
    Ok(TlsaAnswer::Secure(records))
}

/// Checks a server's chain (end entity first) against `records` for `host` (RFC 7672 §3.1).
/// `Ok` names the record that matched.
pub fn verify_chain(
    records: &[Tlsa],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    host: &ServerName<'_>,
    now: UnixTime,
    provider: &Arc<CryptoProvider>,
) -> Result<String, String> {
    let usable: Vec<&Tlsa> = records.iter().filter(|r| r.usable()).collect();
    if usable.is_empty() {
        // §2.2: TLS still mandatory, but nothing to authenticate with.
        return Ok("no usable TLSA record; TLS without authentication".into());
    }
    // DANE-EE: the end-entity certificate itself; no name or validity checks (§3.1.1).
    if let Some(r) = usable
        .iter()
        .find(|r| r.usage == 3 && r.matches(end_entity.as_ref()))
    {
        return Ok(format!("DANE-EE {r}"));
    }
    // DANE-TA: a certificate the server sent is the trust anchor for the chain (§3.1.2).
    for r in usable.iter().filter(|r| r.usage == 2) {
        for ta in intermediates.iter().filter(|c| r.matches(c.as_ref())) {
            let mut roots = RootCertStore::empty();
            if roots.add(ta.clone().into_owned()).is_err() {
                continue;
            }
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| e.to_string())?;
            if verifier
                .verify_server_cert(end_entity, intermediates, host, &[], now)
                .is_ok()
            {
                return Ok(format!("DANE-TA {r}"));
            }
        }
    }
    Err("the server's certificate matches none of its TLSA records".into())
}

/// The DER of the SubjectPublicKeyInfo of a certificate (RFC 5280 §4.1): the seventh element
/// of `tbsCertificate`, counting the optional `[0]` version.
pub fn spki(cert: &[u8]) -> Option<&[u8]> {
    let (_, cert_body, _) = der_item(cert)?;
    let (_, tbs, _) = der_item(cert_body)?;
    let mut rest = tbs;
    let (tag, _, after) = der_item(rest)?;
    if tag == 0xA0 {
        rest = after; // version
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        let (_, _, after) = der_item(rest)?;
        rest = after;
    }
    let (tag, _, after) = der_item(rest)?;
    (tag == 0x30).then(|| &rest[..rest.len() - after.len()])
}

/// One DER item: (tag, contents, the bytes after it). Single-byte tags; definite lengths.
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in input.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, input.get(header..end)?, input.get(end..)?))
}

/// A rustls verifier that accepts exactly what [`verify_chain`] accepts.
#[derive(Debug)]
pub struct DaneVerifier {
    pub records: Vec<Tlsa>,
    pub provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match verify_chain(
            &self.records,
            end_entity,
            intermediates,
            server_name,
            now,
            &self.provider,
        ) {
            Ok(_) => Ok(ServerCertVerified::assertion()),
            Err(e) => {
                tracing::info!(%e, "DANE verification failed");
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
#[path = "dane_tests.rs"]
mod tests;
