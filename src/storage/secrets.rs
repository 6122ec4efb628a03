//! Secrets that Ferrymail must be able to read back (the passwords of outside mailboxes it
//! fetches from), sealed at rest with ChaCha20-Poly1305 (RFC 8439).
//!
//! Unlike account passwords, which are hashed, a fetch password has to be presented to the
//! other server, so it is encrypted, not hashed. The 256-bit key lives in
//! `data_dir/secret.key` (mode 0600), made on first use. Keeping it in its own file means
//! that a copy of `db/` alone (a backup, a dump, a bug report) does not reveal the
//! passwords, and the key can be kept or rotated apart from the index. It does not protect
//! against someone who can read the whole data directory: nothing that runs unattended can.
//!
//! The PostgreSQL backend keeps the key in the database instead (every node must open the
//! passwords any node sealed): [`SecretKey::new_key_bytes`] makes one and
//! [`SecretKey::from_bytes`] builds the key from what was stored.
//!
//! Other parts derive keys of their own from this one ([`SecretKey::derive`], HMAC-SHA256
//! with a purpose label): the web session cookies are sealed with such a key, so every
//! node of a cluster opens any node's cookies and sessions survive a restart, while the
//! stored key itself never leaves this module.
//!
//! Sealed form: 12-byte random nonce ++ ciphertext ++ 16-byte tag. The associated data
//! names the purpose, so a sealed value cannot be replayed as another kind of secret later.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use super::StorageError;

pub const KEY_FILE: &str = "secret.key";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const AAD: &[u8] = b"ferrymail fetch password v1";

/// The key that seals and opens secrets. `Debug` never shows it.
pub struct SecretKey {
    cipher: ChaCha20Poly1305,
    /// HMAC key over the stored bytes, for [`SecretKey::derive`].
    derive: ring::hmac::Key,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Where the key of `data_dir` is kept.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

impl SecretKey {
    /// Reads the key file, creating it (0600, fsynced) if it does not exist yet.
    pub fn load_or_create(data_dir: &Path) -> Result<SecretKey, StorageError> {
        let path = key_path(data_dir);
        let bytes = match std::fs::read(&path) {
            // An empty key file is what a creator of an older build left when the disk was
            // full: no secret can have been sealed with it, so a new key replaces it.
            Ok(b) if b.is_empty() => {
                tracing::warn!(path = %path.display(), "the secret key file is empty; making a new key");
                std::fs::remove_file(&path)?;
                create_key(&path)?
            }
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path)?,
            Err(e) => return Err(e.into()),
        };
        SecretKey::from_bytes(&bytes, &path.display().to_string())
    }

    /// The key made of `bytes` (a stored key); `origin` names where they were kept, for
    /// the error when they are not a key.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<SecretKey, StorageError> {
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
            StorageError::Invalid(format!(
                "{origin} is not a {KEY_LEN}-byte key; restore it from a backup"
            ))
        })?;
        Ok(SecretKey {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            derive: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        })
    }

    /// A new random key, to be stored (then read back with [`SecretKey::from_bytes`]).
    pub fn new_key_bytes() -> Vec<u8> {
        let mut key = vec![0u8; KEY_LEN];
        rand::thread_rng().fill_bytes(&mut key);
        key
    }

    /// A 256-bit key for `purpose` (e.g. "web session v1"), the same for the same stored
    /// key: HMAC-SHA256(stored key, "ferrymail derived key: " ++ purpose). Knowing one
    /// derived key reveals neither the stored key nor another purpose's.
    pub fn derive(&self, purpose: &str) -> [u8; KEY_LEN] {
        let mut label = b"ferrymail derived key: ".to_vec();
        label.extend_from_slice(purpose.as_bytes());
        let tag = ring::hmac::sign(&self.derive, &label);
        let mut out = [0u8; KEY_LEN];
        out.copy_from_slice(&tag.as_ref()[..KEY_LEN]);
        out
    }

    pub fn seal(&self, plaintext: &str) -> Result<Vec<u8>, StorageError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: AAD,
                },
            )
            .map_err(|_| StorageError::Invalid("cannot encrypt a secret".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, StorageError> {
        let bad = || {
            StorageError::Invalid(
                "a stored password cannot be decrypted (was the secret key replaced?); set it again"
                    .into(),
            )
        };
        if sealed.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: AAD,
                },
            )
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

/// Writes a new random key: whole and fsynced in a temporary file first, then linked into
/// place, so the key file never exists half-written (a full disk fails the call and leaves
/// no file). A concurrent creator that linked first wins and its key is read.
fn create_key(path: &Path) -> Result<Vec<u8>, StorageError> {
    use std::os::unix::fs::OpenOptionsExt;
    let key = SecretKey::new_key_bytes();
    let tmp = path.with_extension(format!(
        "tmp.{}.{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()
    })();
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read(path)?),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An empty key file (left by an older build on a full disk) is replaced by a whole key;
    /// no temporary file is left behind.
    #[test]
    fn an_empty_key_file_is_replaced_and_no_temporary_file_remains() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(key_path(dir.path()), b"").unwrap();
        let key = SecretKey::load_or_create(dir.path()).unwrap();
        let sealed = key.seal("s").unwrap();
        assert_eq!(std::fs::read(key_path(dir.path())).unwrap().len(), KEY_LEN);
        let again = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "s");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![KEY_FILE.to_string()]);
    }

    #[test]
    fn seal_open_round_trip_and_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path()).unwrap();
        let sealed = key.seal("hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open(&sealed).unwrap(), "hunter2");
        // Two seals of one secret differ (random nonce).
        assert_ne!(key.seal("hunter2").unwrap(), sealed);
        let mode = std::fs::metadata(key_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // The same key is read back.
        let again = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "hunter2");
    }

    #[test]
    fn tampered_or_foreign_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path()).unwrap();
        let mut sealed = key.seal("pw").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(&sealed).is_err());
        assert!(key.open(b"short").is_err());
        let other = tempfile::tempdir().unwrap();
        let other_key = SecretKey::load_or_create(other.path()).unwrap();
        assert!(other_key.open(&key.seal("pw").unwrap()).is_err());
        std::fs::write(key_path(other.path()), b"too short").unwrap();
        assert!(SecretKey::load_or_create(other.path()).is_err());
    }

    #[test]
    fn a_key_made_from_stored_bytes_opens_what_it_sealed() {
        let bytes = SecretKey::new_key_bytes();
        let sealed = SecretKey::from_bytes(&bytes, "test")
            .unwrap()
            .seal("pw")
            .unwrap();
        let again = SecretKey::from_bytes(&bytes, "test").unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "pw");
        assert_ne!(SecretKey::new_key_bytes(), bytes);
        // Derived keys: stable for one stored key and purpose, distinct otherwise.
        let (a, b) = (
            SecretKey::from_bytes(&bytes, "test").unwrap(),
            SecretKey::from_bytes(&bytes, "test").unwrap(),
        );
        assert_eq!(a.derive("web session v1"), b.derive("web session v1"));
        assert_ne!(a.derive("web session v1"), a.derive("other"));
        let other = SecretKey::from_bytes(&SecretKey::new_key_bytes(), "test").unwrap();
        assert_ne!(other.derive("web session v1"), a.derive("web session v1"));
        assert!(!a
            .derive("x")
            .windows(8)
            .any(|w| bytes.windows(8).any(|v| v == w)));
        let err = SecretKey::from_bytes(&bytes[1..], "the stored key").unwrap_err();
        assert!(err.to_string().contains("the stored key"), "{err}");
    }
}
