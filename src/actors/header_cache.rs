//! Message headers kept in memory for SEARCH on header fields, SORT, THREAD and ENVELOPE:
//! the IMAP work that would otherwise read every message file of a folder again and again
//! (Dovecot keeps a cache file for the same reason). Keyed by body id, so copies share an
//! entry and an entry can never be stale (bodies are immutable). Bounded in bytes; when
//! full, it is emptied and refills with what is used.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::supervisor::lock;
use crate::protocols::imap::backend::header_len;
use crate::storage::BlobId;

/// Headers longer than this are read whole each time, not cached.
const MAX_HEADER: usize = 64 * 1024;

/// Cached headers and their total size in bytes.
type Entries = (HashMap<BlobId, Arc<[u8]>>, usize);

#[derive(Debug)]
pub struct HeaderCache {
    budget: usize,
    inner: Mutex<Entries>,
}

impl HeaderCache {
    pub fn new(budget: usize) -> HeaderCache {
        HeaderCache {
            budget,
            inner: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// The header of the body file at `path`, from the cache or read and cached.
    pub fn get(&self, id: &BlobId, path: &Path) -> std::io::Result<Arc<[u8]>> {
        if let Some(h) = lock(&self.inner).0.get(id) {
            return Ok(h.clone());
        }
        let header: Arc<[u8]> = read_header(path)?.into();
        if header.len() <= MAX_HEADER {
            let mut inner = lock(&self.inner);
            if inner.1 + header.len() > self.budget {
                inner.0.clear();
                inner.1 = 0;
            }
            inner.1 += header.len();
            inner.0.insert(*id, header.clone());
        }
        Ok(header)
    }
}

/// Reads a file up to the end of its header section only.
fn read_header(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        let end = header_len(&buf);
        if end < buf.len() || buf.len() > MAX_HEADER * 4 {
            buf.truncate(end);
            return Ok(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_headers_within_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, b"Subject: a\r\nFrom: b\r\n\r\nbody\r\n").unwrap();
        let cache = HeaderCache::new(100);
        let id = BlobId([1; 32]);
        assert_eq!(
            &*cache.get(&id, &path).unwrap(),
            b"Subject: a\r\nFrom: b\r\n\r\n"
        );
        // Served from memory now, even with the file gone.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(cache.get(&id, &path).unwrap().len(), 23);
        // Over budget: emptied, so the missing file is noticed.
        let other = dir.path().join("o");
        std::fs::write(&other, vec![b'x'; 90]).unwrap();
        cache.get(&BlobId([2; 32]), &other).unwrap();
        assert!(cache.get(&id, &path).is_err());
    }
}
