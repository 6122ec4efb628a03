//! Two-factor login for the web front: TOTP (RFC 6238: HMAC-SHA-1, 30-second steps, six
//! digits, one step of clock drift either way) with ten single-use recovery codes.
//!
//! Enrolment is two steps so that a secret is only switched on once the user's
//! authenticator has shown it can produce codes: [`begin`] stores a pending secret and
//! gives it (base32 and as an `otpauth://` URI for a QR code); [`confirm`] checks a code
//! against it, switches it on and gives the recovery codes, which are shown once and kept
//! only as SHA-256 digests (80 random bits each: no slow hash needed). [`verify`] accepts a
//! code only for a time step later than the last one accepted (no replay of an observed
//! code) and a recovery code only once; both are decided atomically by the store.
//! [`reset`] (an administrator's, for a lost device) turns it off and forgets the
//! account's remembered devices.

use std::fmt;

use rand::RngCore;
use ring::hmac;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::storage::{Store, TotpState};

/// Seconds per time step (RFC 6238 §4: X = 30).
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Recovery codes made at confirmation.
pub const RECOVERY_CODES: usize = 10;
/// What the authenticator app shows as the account's issuer.
const ISSUER: &str = "Ferrymail";

/// An account's two-factor state, for `account 2fa status` and the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TwoFaStatus {
    /// Codes are asked for at login.
    pub enabled: bool,
    /// Enrolment begun, not confirmed yet.
    pub pending: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: usize,
}

impl fmt::Display for TwoFaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.enabled {
            write!(f, "on ({} recovery codes left)", self.recovery_codes_left)
        } else if self.pending {
            write!(f, "off (enrolment begun, waiting for a code)")
        } else {
            write!(f, "off")
        }
    }
}

/// A begun enrolment: the secret to enter into an authenticator app, both ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Enrollment {
    /// RFC 4648 base32, without padding.
    pub secret_base32: String,
    /// `otpauth://totp/Ferrymail:ADDRESS?secret=…&issuer=Ferrymail` (for a QR code).
    pub otpauth_uri: String,
}

/// The RFC 4226 HOTP value of `counter` with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    // Dynamic truncation (RFC 4226 §5.3).
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    bin % 10u32.pow(digits)
}

/// The six-digit code of time step `step`, zero-padded.
pub fn code_at(secret: &[u8], step: u64) -> String {
    format!("{:06}", hotp(secret, step, DIGITS))
}

/// The time step of `now_unix`.
pub fn step_of(now_unix: u64) -> u64 {
    now_unix / STEP_SECS
}

/// The step within one of `now_unix`'s whose code is `code`, if any (compared in
/// constant time).
fn matching_step(secret: &[u8], code: &str, now_unix: u64) -> Option<u64> {
    let now = step_of(now_unix);
    let mut found = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let ok: bool = code_at(secret, step)
            .as_bytes()
            .ct_eq(code.as_bytes())
            .into();
        if ok && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// A code as typed: spaces dropped ("123 456").
fn clean_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A recovery code as typed: case, spaces and dashes do not matter.
fn recovery_digest(code: &str) -> Vec<u8> {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(norm.as_bytes()).to_vec()
}

/// A new recovery code: 80 random bits, base32, as `xxxx-xxxx-xxxx-xxxx`.
fn new_recovery_code() -> String {
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let text = data_encoding::BASE32_NOPAD
        .encode(&bytes)
        .to_ascii_lowercase();
    text.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn uri_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://` URI of `secret` for `account` (Key Uri Format of the authenticator apps).
pub fn otpauth_uri(account: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={}&issuer={ISSUER}",
        uri_escape(account),
        data_encoding::BASE32_NOPAD.encode(secret)
    )
}

/// The account's address as stored, or an error naming it when there is none.
fn existing_account(store: &Store, account: &str) -> Result<String, String> {
    match store.get_account(account).map_err(|e| e.to_string())? {
        Some(a) => Ok(a.address),
        None => Err(format!("no such account {account}")),
    }
}

/// Now, in unix seconds, from the real clock.
fn unix_now() -> u64 {
    u64::try_from(crate::clock::SystemClock.now()).unwrap_or(0)
}

fn commit(store: &Store) -> Result<(), String> {
    store.commit().map_err(|e| format!("flush failed: {e}"))
}

/// `account`'s two-factor state.
pub fn status(store: &Store, account: &str) -> Result<TwoFaStatus, String> {
    let account = existing_account(store, account)?;
    let state = store.totp_get(&account).map_err(|e| e.to_string())?;
    Ok(match state {
        None => TwoFaStatus {
            enabled: false,
            pending: false,
            recovery_codes_left: 0,
        },
        Some(s) => TwoFaStatus {
            enabled: s.enabled,
            pending: !s.enabled,
            recovery_codes_left: if s.enabled { s.recovery.len() } else { 0 },
        },
    })
}

/// Begins enrolment with a new random secret (replacing a pending one). Refused while
/// two-factor login is on: [`reset`] first.
pub fn begin(store: &Store, account: &str) -> Result<Enrollment, String> {
    let account = existing_account(store, account)?;
    if let Some(s) = store.totp_get(&account).map_err(|e| e.to_string())? {
        if s.enabled {
            return Err(format!(
                "two-factor login is already on for {account}: reset it first"
            ));
        }
    }
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let state = TotpState {
        secret: secret.clone(),
        enabled: false,
        recovery: Vec::new(),
        last_step: 0,
    };
    store
        .totp_put(&account, &state)
        .map_err(|e| e.to_string())?;
    commit(store)?;
    Ok(Enrollment {
        secret_base32: data_encoding::BASE32_NOPAD.encode(&secret),
        otpauth_uri: otpauth_uri(&account, &secret),
    })
}

/// Confirms a begun enrolment with a current code from the authenticator: two-factor login
/// is on from now, and the recovery codes are returned (to show once; only their digests
/// are kept).
pub fn confirm(store: &Store, account: &str, code: &str) -> Result<Vec<String>, String> {
    confirm_at(store, account, code, unix_now())
}

/// [`confirm`] at a given time (tests).
pub(crate) fn confirm_at(
    store: &Store,
    account: &str,
    code: &str,
    now_unix: u64,
) -> Result<Vec<String>, String> {
    let account = existing_account(store, account)?;
    let state = match store.totp_get(&account).map_err(|e| e.to_string())? {
        Some(s) if s.enabled => {
            return Err(format!("two-factor login is already on for {account}"))
        }
        Some(s) => s,
        None => {
            return Err(format!(
                "no enrolment begun for {account}: run `account 2fa begin` first"
            ))
        }
    };
    let Some(step) = matching_step(&state.secret, &clean_code(code), now_unix) else {
        return Err("wrong code (check the authenticator's clock)".into());
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let enabled = TotpState {
        enabled: true,
        recovery: codes.iter().map(|c| recovery_digest(c)).collect(),
        last_step: step,
        ..state
    };
    store
        .totp_put(&account, &enabled)
        .map_err(|e| e.to_string())?;
    commit(store)?;
    Ok(codes)
}

/// Checks a login's second factor: a six-digit code of a time step later than the last one
/// accepted, or an unused recovery code (which is then used up). False when two-factor
/// login is not on for `account`.
pub fn verify(
    store: &Store,
    account: &str,
    code_or_recovery: &str,
    now_unix: u64,
) -> Result<bool, String> {
    let Some(state) = store.totp_get(account).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    if !state.enabled {
        return Ok(false);
    }
    let code = clean_code(code_or_recovery);
    if code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit()) {
        return match matching_step(&state.secret, &code, now_unix) {
            Some(step) => store
                .totp_claim_step(account, step)
                .map_err(|e| e.to_string()),
            None => Ok(false),
        };
    }
    store
        .totp_use_recovery(account, &recovery_digest(code_or_recovery))
        .map_err(|e| e.to_string())
}

/// Turns two-factor login off for `account` (pending enrolment included), and forgets the
/// devices remembered at its webmail logins (`storage::devices`): they only ever skipped a
/// code, and a code asked for again later must not be skipped by a device of before.
pub fn reset(store: &Store, account: &str) -> Result<(), String> {
    let account = existing_account(store, account)?;
    store.totp_delete(&account).map_err(|e| e.to_string())?;
    store
        .device_delete_all(&account)
        .map_err(|e| e.to_string())?;
    commit(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the secret is the ASCII "12345678901234567890").
    const VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in VECTORS {
            assert_eq!(
                format!("{:08}", hotp(secret, step_of(time), 8)),
                expected,
                "T = {time}"
            );
            // Six digits are the last six of the eight.
            assert_eq!(code_at(secret, step_of(time)), expected[2..], "T = {time}");
        }
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri("bob@example.com", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Ferrymail:bob%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Ferrymail"
        );
    }

    #[test]
    fn drift_of_one_step_either_way_is_accepted() {
        let secret = [9u8; 20];
        let now = 1_700_000_000;
        let step = step_of(now);
        for s in [step - 1, step, step + 1] {
            assert_eq!(matching_step(&secret, &code_at(&secret, s), now), Some(s));
        }
        for s in [step - 2, step + 2] {
            assert_eq!(matching_step(&secret, &code_at(&secret, s), now), None);
        }
    }

    #[test]
    fn recovery_codes_ignore_case_and_dashes() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(
            recovery_digest(&code),
            recovery_digest(&code.replace('-', " ").to_uppercase())
        );
    }

    #[test]
    fn enrol_verify_refuse_replay_recover_and_reset() {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("example.com").unwrap();
        store.add_account("bob@example.com", "pw", true).unwrap();
        let bob = "bob@example.com";
        assert!(!status(&store, bob).unwrap().enabled);
        assert!(begin(&store, "nobody@example.com").is_err());
        let e = begin(&store, bob).unwrap();
        assert!(e.otpauth_uri.contains(&e.secret_base32));
        let secret = data_encoding::BASE32_NOPAD
            .decode(e.secret_base32.as_bytes())
            .unwrap();
        assert_eq!(secret.len(), 20);
        assert!(status(&store, bob).unwrap().pending);
        // Pending: a login is not asked for (nor accepts) a code.
        let now = 1_700_000_000;
        assert!(!verify(&store, bob, &code_at(&secret, step_of(now)), now).unwrap());
        let window: Vec<String> = (step_of(now) - 1..=step_of(now) + 1)
            .map(|s| code_at(&secret, s))
            .collect();
        let wrong = ["000000", "000001", "000002", "000003"]
            .into_iter()
            .find(|c| !window.iter().any(|w| w == c))
            .expect("three codes cannot cover four values");
        assert!(confirm_at(&store, bob, wrong, now).is_err());
        assert!(status(&store, bob).unwrap().pending, "still pending");
        let codes = confirm_at(&store, bob, &code_at(&secret, step_of(now)), now).unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(
            status(&store, bob).unwrap(),
            TwoFaStatus {
                enabled: true,
                pending: false,
                recovery_codes_left: RECOVERY_CODES
            }
        );
        assert!(begin(&store, bob).is_err(), "on: reset first");
        // The step used to confirm cannot log in again; the next one can, once.
        assert!(!verify(&store, bob, &code_at(&secret, step_of(now)), now).unwrap());
        let later = now + STEP_SECS;
        let next = code_at(&secret, step_of(later));
        assert!(verify(&store, bob, &next, later).unwrap());
        assert!(!verify(&store, bob, &next, later).unwrap(), "replay");
        assert!(!verify(&store, bob, "not a code", later).unwrap());
        assert!(verify(&store, bob, &codes[3].to_uppercase(), later).unwrap());
        assert!(!verify(&store, bob, &codes[3], later).unwrap(), "used once");
        assert_eq!(status(&store, bob).unwrap().recovery_codes_left, 9);
        reset(&store, bob).unwrap();
        assert_eq!(status(&store, bob).unwrap().to_string(), "off");
        assert!(!verify(&store, bob, &codes[4], later).unwrap());
    }
}
