//! Remembered devices: the long-lived tokens a webmail login with two-factor login leaves
//! in a browser when the user ticks "Remember this device" (`http::webmail::remember`). A
//! later login from that browser with the right password skips the code step; the password
//! is always asked.
//!
//! Only a SHA-256 digest of a token's secret is stored (the token is 32 random bytes: no
//! slow hash is needed, and the server never needs it back), with the account it belongs to,
//! when it was made, last used and expires, and a label from the browser's User-Agent so
//! that the user can tell the devices apart in Settings. A record is keyed by (account, id):
//! the id is the token's public half, so a token only ever opens its own account's record.
//! Records go with their account (deleted in the same transaction) and are kept beside the
//! TOTP state (`storage::webauth`): `storage migrate` copies them in the web auth phase.

use serde::{Deserialize, Serialize};

use super::StorageError;

/// One remembered device as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// The account (lowercase).
    pub account: String,
    /// 16 lowercase hex digits, the public half of the token.
    pub id: String,
    /// SHA-256 of the token's secret half.
    pub digest: Vec<u8>,
    /// What the browser said it was when the device was remembered ("Firefox on Linux").
    pub label: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds of the last login it let skip the code step (`created` until then).
    pub last_used: u64,
    /// Unix seconds after which the token opens nothing.
    pub expires: u64,
}

/// The remembered devices of every account. Deleting an account deletes its devices in
/// the same transaction.
pub trait DeviceStore: Send + Sync {
    /// Stores a new device. NotFound when its account is no account; Exists when the
    /// account already has a device with that id.
    fn device_add(&self, device: &DeviceRecord) -> Result<(), StorageError>;

    /// `account`'s device `id`, expired or not.
    fn device_get(&self, account: &str, id: &str) -> Result<Option<DeviceRecord>, StorageError>;

    /// `account`'s devices (every account's when `None`), by account then id.
    fn device_list(&self, account: Option<&str>) -> Result<Vec<DeviceRecord>, StorageError>;

    /// Records a use of `account`'s device `id` at `at` (unix seconds); a device deleted
    /// meanwhile is left deleted.
    fn device_touch(&self, account: &str, id: &str, at: u64) -> Result<(), StorageError>;

    /// Forgets `account`'s device `id`; whether there was one.
    fn device_delete(&self, account: &str, id: &str) -> Result<bool, StorageError>;

    /// Forgets every device of `account`; how many there were.
    fn device_delete_all(&self, account: &str) -> Result<u64, StorageError>;
}
