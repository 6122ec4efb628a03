//! URLAUTH mailbox access keys (RFC 4467 §3): how a new one is made, shared by every
//! backend. Where keys are kept is the backend's business (see `traits::CatalogWrites`).

use ring::rand::{SecureRandom, SystemRandom};

use super::StorageError;

/// Octets of an access key (the HMAC-SHA256 block is larger; 256 bits is its strength).
pub const KEY_LEN: usize = 32;

/// A new access key: [`KEY_LEN`] random octets from the operating system's generator.
pub(crate) fn new_key() -> Result<Vec<u8>, StorageError> {
    let mut key = vec![0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| StorageError::Invalid("no random numbers for a URLAUTH key".into()))?;
    Ok(key)
}
