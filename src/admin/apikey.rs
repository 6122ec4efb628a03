//! API keys for the management API: `fm_<id>_<secret>`, where `<id>` is 8 hex digits (the
//! key's name in lists and logs) and `<secret>` 32 random bytes in base64url. The key is
//! shown once, at creation; the store keeps only the SHA-256 of the secret (256 random bits
//! need no slow hash) and compares digests in constant time. Each key acts as its owner
//! within its [`Scope`]. Its last use is recorded at most once a minute, so a busy client
//! does not cause a write per request.
//!
//! [`Scope`] is defined here rather than in `http::auth` (which re-exports it) because the
//! HTTP layer calls [`authenticate`]: the key's scope belongs to the key.

use std::fmt;

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::{Clock, SystemClock};
use crate::storage::{ApiKeyRecord, StorageError, Store};

/// How far an API key reaches (sessions and Basic logins have [`Scope::All`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// GET only.
    ReadOnly,
    /// Read everything; change domains, accounts, aliases and folders.
    Accounts,
    /// Read everything; change queue records.
    Queues,
    /// Anything the owner may.
    All,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::ReadOnly, Scope::Accounts, Scope::Queues, Scope::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadOnly => "read-only",
            Scope::Accounts => "accounts",
            Scope::Queues => "queues",
            Scope::All => "all",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown scope {s:?} (read-only, accounts, queues or all)"))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its name (`"read-only"`, …).
impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A key as listed: everything but the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKeyInfo {
    /// 8 hex digits.
    pub id: String,
    pub name: String,
    /// The account the key acts as.
    pub owner: String,
    pub scope: Scope,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds of the last use (to the minute).
    pub last_used: Option<u64>,
}

/// The prefix of every key.
const PREFIX: &str = "fm_";
/// Uses closer together than this are recorded once.
const TOUCH_EVERY_SECS: u64 = 60;
/// Longest key name.
const NAME_MAX: usize = 64;

fn info(rec: ApiKeyRecord) -> Result<ApiKeyInfo, String> {
    let scope = rec
        .scope
        .parse()
        .map_err(|e| format!("API key {}: {e}", rec.id))?;
    Ok(ApiKeyInfo {
        id: rec.id,
        name: rec.name,
        owner: rec.owner,
        scope,
        created: rec.created,
        last_used: rec.last_used,
    })
}

fn unix_now() -> u64 {
    u64::try_from(SystemClock.now()).unwrap_or(0)
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// `(id, secret)` of a presented key, if it has the shape of one.
fn split_key(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    // The id is hex (no '_'); the secret's base64url alphabet may contain '_'.
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 8 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (id_ok && !secret.is_empty()).then_some((id, secret))
}

/// Makes a key for `owner` (an account) named `name` with `scope`. Returns its description
/// and the key itself, which is not kept and cannot be shown again.
pub fn create(
    store: &Store,
    owner: &str,
    name: &str,
    scope: Scope,
) -> Result<(ApiKeyInfo, String), String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(format!(
            "a key's name is 1 to {NAME_MAX} printable characters"
        ));
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    // 32-bit ids: a collision is rare, and then another id is drawn.
    for _ in 0..8 {
        let id = format!("{:08x}", rand::rngs::OsRng.next_u32());
        let rec = ApiKeyRecord {
            id: id.clone(),
            name: name.to_string(),
            owner: owner.to_string(),
            scope: scope.as_str().to_string(),
            digest: digest(&secret),
            created: unix_now(),
            last_used: None,
        };
        match store.apikey_add(&rec) {
            Ok(()) => {
                store.commit().map_err(|e| format!("flush failed: {e}"))?;
                let stored = store
                    .apikey_get(&id)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("API key {id} vanished"))?;
                return Ok((info(stored)?, format!("{PREFIX}{id}_{secret}")));
            }
            Err(StorageError::Exists(_)) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("could not find a free key id".into())
}

/// Every key, by id.
pub fn list(store: &Store) -> Result<Vec<ApiKeyInfo>, String> {
    store
        .apikey_list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(info)
        .collect()
}

/// Deletes key `id`: it stops working at once.
pub fn revoke(store: &Store, id: &str) -> Result<(), String> {
    store.apikey_delete(id).map_err(|e| e.to_string())?;
    store.commit().map_err(|e| format!("flush failed: {e}"))
}

/// The key `presented` (the whole `fm_…` string), if it is one of ours: `None` for anything
/// else, malformed or revoked. Records the use (at most once a minute per key).
pub fn authenticate(store: &Store, presented: &str) -> Result<Option<ApiKeyInfo>, String> {
    authenticate_at(store, presented, unix_now())
}

/// [`authenticate`] at a given time (tests).
pub(crate) fn authenticate_at(
    store: &Store,
    presented: &str,
    now: u64,
) -> Result<Option<ApiKeyInfo>, String> {
    let Some((id, secret)) = split_key(presented.trim()) else {
        return Ok(None);
    };
    let Some(mut rec) = store.apikey_get(id).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let same: bool = digest(secret).ct_eq(&rec.digest).into();
    if !same {
        return Ok(None);
    }
    if rec
        .last_used
        .is_none_or(|t| now.saturating_sub(t) >= TOUCH_EVERY_SECS)
    {
        store.apikey_touch(id, now).map_err(|e| e.to_string())?;
        rec.last_used = Some(now);
    }
    info(rec).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("everything".parse::<Scope>().is_err());
    }

    #[test]
    fn key_shape() {
        assert_eq!(
            split_key("fm_0a1b2c3d_ab_c-d"),
            Some(("0a1b2c3d", "ab_c-d"))
        );
        for bad in [
            "fm_0a1b2c3_x",
            "fm_0A1B2C3D_x",
            "xx_0a1b2c3d_x",
            "fm_0a1b2c3d_",
            "fm_",
        ] {
            assert_eq!(split_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn create_authenticate_touch_and_revoke() {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("example.com").unwrap();
        store.add_account("bob@example.com", "pw", true).unwrap();
        assert!(create(&store, "nobody@example.com", "ci", Scope::All).is_err());
        assert!(create(&store, "bob@example.com", " ", Scope::All).is_err());
        let (info, key) = create(&store, "bob@example.com", "ci", Scope::Queues).unwrap();
        assert!(key.starts_with(&format!("fm_{}_", info.id)));
        assert_eq!(key.len(), 3 + 8 + 1 + 43);
        assert_eq!(
            (info.owner.as_str(), info.scope, info.last_used),
            ("bob@example.com", Scope::Queues, None)
        );
        // Only the digest is stored.
        let rec = store.apikey_get(&info.id).unwrap().unwrap();
        assert!(!rec.digest.is_empty() && !key.contains(&hex::encode(&rec.digest)));

        let t0 = 1_800_000_000;
        let got = authenticate_at(&store, &key, t0).unwrap().unwrap();
        assert_eq!(
            (got.id.as_str(), got.last_used),
            (info.id.as_str(), Some(t0))
        );
        // Within a minute: no write.
        let got = authenticate_at(&store, &key, t0 + 30).unwrap().unwrap();
        assert_eq!(got.last_used, Some(t0));
        assert_eq!(
            store.apikey_get(&info.id).unwrap().unwrap().last_used,
            Some(t0)
        );
        let got = authenticate_at(&store, &key, t0 + 61).unwrap().unwrap();
        assert_eq!(got.last_used, Some(t0 + 61));

        let mut wrong = key.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(authenticate_at(&store, &wrong, t0).unwrap(), None);
        assert_eq!(authenticate_at(&store, "fm_00000000_x", t0).unwrap(), None);
        assert_eq!(
            authenticate_at(&store, "Bearer nonsense", t0).unwrap(),
            None
        );

        assert_eq!(list(&store).unwrap().len(), 1);
        revoke(&store, &info.id).unwrap();
        assert!(revoke(&store, &info.id).is_err());
        assert_eq!(authenticate_at(&store, &key, t0).unwrap(), None);
        assert!(list(&store).unwrap().is_empty());
    }
}
