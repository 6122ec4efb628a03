//! The web front's credentials besides passwords: per-account TOTP state (two-factor
//! login, `admin::twofa`) and API keys (`admin::apikey`). Only digests of secrets that the
//! server never needs back are stored: recovery codes and API key secrets. The TOTP secret
//! itself must be kept, since each code is computed from it.

use serde::{Deserialize, Serialize};

/// An account's TOTP (RFC 6238) state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpState {
    /// The shared secret (20 random bytes).
    pub secret: Vec<u8>,
    /// Confirmed with a code; until then the enrolment is pending and logins do not ask for
    /// a code.
    pub enabled: bool,
    /// SHA-256 digests of the recovery codes not used yet.
    pub recovery: Vec<Vec<u8>>,
    /// The last time step a code was accepted for: a code of that step or an earlier one is
    /// refused, so an observed code cannot be replayed.
    pub last_step: u64,
}

/// One API key as stored: the secret part only as its SHA-256 digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// 8 lowercase hex digits, the `<id>` of `fm_<id>_<secret>`.
    pub id: String,
    /// The administrator's label for it.
    pub name: String,
    /// The account the key acts as (lowercase).
    pub owner: String,
    /// `read-only`, `accounts`, `queues` or `all` (`http::auth::Scope::as_str`).
    pub scope: String,
    /// SHA-256 of the secret part.
    pub digest: Vec<u8>,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds of the last use, kept to the minute.
    pub last_used: Option<u64>,
}
