//! Snooze records (`storage::snooze`) in two trees outside the transactional set, written
//! together by a transaction of their own: `v1/snooze`, keyed by wake time (i64 with its
//! sign bit flipped, big endian, so byte order is time order) ++ record id u64 BE, holding
//! the record; and `v1/snooze_ids`, keyed by record id u64 BE, holding that key, so a
//! record is found and replaced by id. The next due record is the first key of
//! `v1/snooze`.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::keys;
use super::{SledStore, StorageError};
use crate::storage::snooze::{SnoozeRecord, SnoozeStore};

const BY_WAKE: &str = "v1/snooze";
const BY_ID: &str = "v1/snooze_ids";

/// `v1/snooze`'s key: the wake time in byte order, then the id.
fn wake_key(wake: i64, id: u64) -> Vec<u8> {
    let mut k = ((wake as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The wake time a `v1/snooze` key starts with.
fn wake_of(key: &[u8]) -> Result<i64, StorageError> {
    let bits = keys::decode_u64(key.get(..8).unwrap_or_default(), "snooze key")?;
    Ok((bits ^ (1 << 63)) as i64)
}

impl SledStore {
    fn snooze_trees(&self) -> Result<(sled::Tree, sled::Tree), StorageError> {
        Ok((
            self.inner.db.open_tree(BY_WAKE)?,
            self.inner.db.open_tree(BY_ID)?,
        ))
    }

    /// Replaces the record `id` (when `put` is `Some`) or removes it, in one transaction
    /// over both trees; whether there was one before.
    fn snooze_write(&self, id: u64, put: Option<&SnoozeRecord>) -> Result<bool, StorageError> {
        let (by_wake, by_id) = self.snooze_trees()?;
        let value = put.map(keys::encode).transpose()?;
        let id_key = id.to_be_bytes();
        let done = (&by_wake, &by_id).transaction(|(by_wake, by_id)| {
            let old = by_id.remove(&id_key)?;
            if let Some(old_key) = &old {
                by_wake.remove(old_key.as_ref())?;
            }
            if let (Some(rec), Some(value)) = (put, &value) {
                let key = wake_key(rec.wake, rec.id);
                by_wake.insert(key.as_slice(), value.as_slice())?;
                by_id.insert(&id_key, key.as_slice())?;
            }
            Ok::<_, ConflictableTransactionError<StorageError>>(old.is_some())
        });
        done.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        })
    }

    /// Records of `v1/snooze` in wake order: those `keep` takes, until it says stop.
    fn snooze_scan(
        &self,
        mut keep: impl FnMut(&[u8], &SnoozeRecord) -> Result<Scan, StorageError>,
    ) -> Result<Vec<SnoozeRecord>, StorageError> {
        let (by_wake, _) = self.snooze_trees()?;
        let mut out = Vec::new();
        for entry in by_wake.iter() {
            let (k, v) = entry?;
            let rec: SnoozeRecord = keys::decode(&v, "snooze record")?;
            match keep(&k, &rec)? {
                Scan::Take => out.push(rec),
                Scan::Skip => {}
                Scan::Stop => break,
            }
        }
        Ok(out)
    }
}

/// What [`SledStore::snooze_scan`] does with a record.
enum Scan {
    Take,
    Skip,
    Stop,
}

impl SnoozeStore for SledStore {
    fn snooze_put(&self, rec: &SnoozeRecord) -> Result<(), StorageError> {
        rec.validate()?;
        let rec = SnoozeRecord {
            account: rec.account.to_ascii_lowercase(),
            ..rec.clone()
        };
        self.snooze_write(rec.id, Some(&rec)).map(|_| ())
    }

    fn snooze_get(&self, id: u64) -> Result<Option<SnoozeRecord>, StorageError> {
        let (by_wake, by_id) = self.snooze_trees()?;
        let Some(key) = by_id.get(id.to_be_bytes())? else {
            return Ok(None);
        };
        match by_wake.get(key)? {
            Some(v) => Ok(Some(keys::decode(&v, "snooze record")?)),
            None => Ok(None),
        }
    }

    fn snooze_delete(&self, id: u64) -> Result<bool, StorageError> {
        self.snooze_write(id, None)
    }

    fn snooze_due(&self, now: i64, max: usize) -> Result<Vec<SnoozeRecord>, StorageError> {
        let mut taken = 0;
        self.snooze_scan(|k, _| {
            if taken >= max || wake_of(k)? > now {
                return Ok(Scan::Stop);
            }
            taken += 1;
            Ok(Scan::Take)
        })
    }

    fn snooze_next(&self) -> Result<Option<i64>, StorageError> {
        let (by_wake, _) = self.snooze_trees()?;
        match by_wake.first()? {
            Some((k, _)) => Ok(Some(wake_of(&k)?)),
            None => Ok(None),
        }
    }

    fn snooze_of(&self, account: &str) -> Result<Vec<SnoozeRecord>, StorageError> {
        let account = account.to_ascii_lowercase();
        self.snooze_scan(|_, rec| {
            Ok(if rec.account == account {
                Scan::Take
            } else {
                Scan::Skip
            })
        })
    }

    fn snooze_list(&self) -> Result<Vec<SnoozeRecord>, StorageError> {
        self.snooze_scan(|_, _| Ok(Scan::Take))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_keys_sort_as_times_do() {
        let times = [i64::MIN, -1, 0, 1, 1_800_000_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(wake_key(pair[0], 9) < wake_key(pair[1], 0), "{pair:?}");
        }
        for t in times {
            assert_eq!(wake_of(&wake_key(t, 3)).unwrap(), t);
        }
    }
}
