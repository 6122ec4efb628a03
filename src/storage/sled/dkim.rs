//! DKIM signing keys (RFC 6376 §3.6): several selectors per domain, one of them active.
//!
//! Each key is a sled record in `v1/dkim` (key `domain 0x00 selector`) holding the algorithm,
//! the creation time, the active flag and the public key; the private key is a PEM file
//! `data_dir/dkim/<domain>/<selector>.pem`, mode 0600 in a 0700 folder, so that it is never
//! inside the database and an operator can back it up or replace it like any key file.
//!
//! Invariants:
//! - The private key file is written and synced before its record is committed, and its
//!   record is removed before the file, so a record always has its file. A crash in between
//!   leaves at most an unreferenced file, overwritten by the next key of that selector.
//! - At most one key per domain is active; the first key of a domain becomes active, later
//!   ones only by [`SledStore::dkim_activate`] (publish the new DNS record first, then switch:
//!   rotation without a window where signatures cannot be verified).
//! - The active key cannot be deleted while the domain has other keys.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::keys::{self, tx_get, tx_put, TreeIx};
use super::{abort, SledStore, StorageError};
use crate::storage::dkim::*;
use crate::storage::traits::DkimStore;

/// Stored value of `v1/dkim`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DkimRecord {
    algorithm: DkimAlgorithm,
    created: i64,
    active: bool,
    public_key: String,
}

fn record_key(domain: &str, selector: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(domain.len() + selector.len() + 1);
    k.extend_from_slice(domain.as_bytes());
    k.push(0);
    k.extend_from_slice(selector.as_bytes());
    k
}

fn domain_prefix(domain: &str) -> Vec<u8> {
    let mut k = domain.as_bytes().to_vec();
    k.push(0);
    k
}

impl SledStore {
    fn dkim_dir(&self, domain: &str) -> PathBuf {
        self.root().join("dkim").join(domain)
    }

    fn dkim_file(&self, domain: &str, selector: &str) -> PathBuf {
        self.dkim_dir(domain).join(format!("{selector}.pem"))
    }
}

impl DkimStore for SledStore {
    fn dkim_add(
        &self,
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        public_key: &str,
        private_pem: &[u8],
        created: i64,
    ) -> Result<DkimKey, StorageError> {
        let domain = dkim_domain(domain)?;
        let selector = normalize_selector(selector)?;
        let _admin = self.admin_lock();
        if self.tree(TreeIx::Domains).get(domain.as_bytes())?.is_none() {
            return Err(StorageError::Invalid(format!(
                "{domain} is not a local domain (add it with 'domain add' first)"
            )));
        }
        let key = record_key(&domain, &selector);
        if self.tree(TreeIx::Dkim).get(&key)?.is_some() {
            return Err(StorageError::Exists(format!(
                "DKIM selector {selector} for {domain}"
            )));
        }
        let first = self
            .tree(TreeIx::Dkim)
            .scan_prefix(domain_prefix(&domain))
            .next()
            .is_none();
        write_private(
            &self.dkim_dir(&domain),
            &self.dkim_file(&domain, &selector),
            private_pem,
        )?;
        let rec = DkimRecord {
            algorithm,
            created,
            active: first,
            public_key: public_key.to_string(),
        };
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Dkim);
            if tree.get(&key)?.is_some() {
                return abort(StorageError::Exists(format!(
                    "DKIM selector {selector} for {domain}"
                )));
            }
            tx_put(tree, &key, &rec)
        })?;
        Ok(to_key(&domain, &selector, rec))
    }

    fn dkim_list(&self, domain: &str) -> Result<Vec<DkimKey>, StorageError> {
        let domain = dkim_domain(domain)?;
        let mut out = Vec::new();
        for item in self.tree(TreeIx::Dkim).scan_prefix(domain_prefix(&domain)) {
            let (k, v) = item?;
            let selector = String::from_utf8_lossy(&k[domain.len() + 1..]).into_owned();
            let rec: DkimRecord = keys::decode(&v, "DKIM key")?;
            out.push(to_key(&domain, &selector, rec));
        }
        Ok(out)
    }

    fn dkim_active(&self, domain: &str) -> Result<Option<DkimKey>, StorageError> {
        let Ok(domain) = dkim_domain(domain) else {
            return Ok(None);
        };
        Ok(self.dkim_list(&domain)?.into_iter().find(|k| k.active))
    }

    fn dkim_activate(&self, domain: &str, selector: &str) -> Result<DkimKey, StorageError> {
        let domain = dkim_domain(domain)?;
        let selector = normalize_selector(selector)?;
        let _admin = self.admin_lock();
        let all = self.dkim_list(&domain)?;
        if !all.iter().any(|k| k.selector == selector) {
            return Err(StorageError::NotFound(format!(
                "DKIM selector {selector} for {domain}"
            )));
        }
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Dkim);
            for k in &all {
                let key = record_key(&domain, &k.selector);
                let Some(mut rec) = tx_get::<DkimRecord>(tree, &key, "DKIM key")? else {
                    continue;
                };
                rec.active = k.selector == selector;
                tx_put(tree, &key, &rec)?;
            }
            Ok(())
        })?;
        let mut key = self
            .dkim_list(&domain)?
            .into_iter()
            .find(|k| k.selector == selector)
            .ok_or_else(|| StorageError::NotFound(format!("DKIM selector {selector}")))?;
        key.active = true;
        Ok(key)
    }

    fn dkim_delete(&self, domain: &str, selector: &str) -> Result<(), StorageError> {
        let domain = dkim_domain(domain)?;
        let selector = normalize_selector(selector)?;
        let _admin = self.admin_lock();
        let all = self.dkim_list(&domain)?;
        let Some(target) = all.iter().find(|k| k.selector == selector) else {
            return Err(StorageError::NotFound(format!(
                "DKIM selector {selector} for {domain}"
            )));
        };
        if target.active && all.len() > 1 {
            return Err(StorageError::Conflict(format!(
                "{selector} is the active DKIM key of {domain}; activate another selector first"
            )));
        }
        let key = record_key(&domain, &selector);
        self.transact(|tx| {
            tx.tree(TreeIx::Dkim).remove(key.as_slice())?;
            Ok(())
        })?;
        self.commit()?;
        match std::fs::remove_file(self.dkim_file(&domain, &selector)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn dkim_private_key(&self, key: &DkimKey) -> Result<Vec<u8>, StorageError> {
        let path = self.dkim_file(&key.domain, &key.selector);
        std::fs::read(&path).map_err(|e| {
            StorageError::Io(std::io::Error::new(
                e.kind(),
                format!("DKIM private key {}: {e}", path.display()),
            ))
        })
    }
}

fn to_key(domain: &str, selector: &str, rec: DkimRecord) -> DkimKey {
    DkimKey {
        domain: domain.to_string(),
        selector: selector.to_string(),
        algorithm: rec.algorithm,
        created: rec.created,
        active: rec.active,
        public_key: rec.public_key,
    }
}

/// Writes a private key: a unique temporary file created 0600, synced, renamed into place,
/// folder synced. The folder is created 0700.
fn write_private(dir: &Path, path: &Path, pem: &[u8]) -> Result<(), StorageError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(pem)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::store;
    use super::*;
    #[allow(unused_imports)]
    use crate::storage::*;

    fn add(store: &SledStore, selector: &str) -> Result<DkimKey, StorageError> {
        store.dkim_add(
            "example.com",
            selector,
            DkimAlgorithm::Ed25519,
            "cHVibGlj",
            b"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
            1_700_000_000,
        )
    }

    #[test]
    fn first_key_is_active_and_the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();
        assert!(matches!(add(&store, "s1"), Err(StorageError::Invalid(_))));
        store.add_domain("example.com").unwrap();
        let k = add(&store, "S1").unwrap();
        assert_eq!(k.selector, "s1");
        assert!(k.active);
        let file = dir.path().join("dkim/example.com/s1.pem");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let folder = std::fs::metadata(file.parent().unwrap()).unwrap();
        assert_eq!(folder.permissions().mode() & 0o777, 0o700);
        assert!(store
            .dkim_private_key(&k)
            .unwrap()
            .starts_with(b"-----BEGIN PRIVATE KEY-----"));
        assert_eq!(
            k.dns_record(),
            "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p=cHVibGlj\""
        );
        assert!(matches!(add(&store, "s1"), Err(StorageError::Exists(_))));
        assert!(matches!(add(&store, "../x"), Err(StorageError::Invalid(_))));
    }

    #[test]
    fn rotation_activates_one_and_keeps_the_old_until_deleted() {
        let (dir, store) = store();
        store.add_domain("example.com").unwrap();
        add(&store, "old").unwrap();
        let new = add(&store, "new").unwrap();
        assert!(!new.active, "a second key waits for its DNS record");
        assert_eq!(
            store.dkim_active("example.com").unwrap().unwrap().selector,
            "old"
        );

        store.dkim_activate("example.com", "new").unwrap();
        let list = store.dkim_list("example.com").unwrap();
        let active: Vec<_> = list
            .iter()
            .filter(|k| k.active)
            .map(|k| &k.selector)
            .collect();
        assert_eq!(active, ["new"]);
        assert_eq!(list.len(), 2, "the old key stays");

        let err = store.dkim_delete("example.com", "new").unwrap_err();
        assert!(err.to_string().contains("activate another"), "{err}");
        store.dkim_delete("example.com", "old").unwrap();
        assert!(!dir.path().join("dkim/example.com/old.pem").exists());
        assert!(matches!(
            store.dkim_delete("example.com", "old"),
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            store.dkim_activate("example.com", "old"),
            Err(StorageError::NotFound(_))
        ));
        // The last key may go: the domain is then unsigned.
        store.dkim_delete("example.com", "new").unwrap();
        assert_eq!(store.dkim_active("example.com").unwrap(), None);
    }

    #[test]
    fn long_records_are_split_into_255_byte_strings() {
        let k = DkimKey {
            domain: "example.com".into(),
            selector: "s".into(),
            algorithm: DkimAlgorithm::Rsa,
            created: 0,
            active: true,
            public_key: "A".repeat(392),
        };
        let rec = k.dns_record();
        let strings: Vec<&str> = rec.split('"').skip(1).step_by(2).collect();
        assert_eq!(strings.len(), 2);
        assert_eq!(strings[0].len(), 255);
        assert_eq!(strings.concat(), k.dns_txt());
    }
}
