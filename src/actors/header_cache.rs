//! Message headers kept in memory for SEARCH on header fields, SORT, THREAD and ENVELOPE:
//! the IMAP work that would otherwise read every message file of a folder again and again
//! (Dovecot keeps a cache file for the same reason). Keyed by body id, so copies share an
//! entry and an entry can never be stale (bodies are immutable). Bounded in bytes; when
//! full, it is emptied and refills with what is used.
//!
//! Beside the headers, the same cache keeps what SORT and THREAD read of each header,
//! already parsed (`sort::sort_fields_of`): sorting a large folder by subject or
//! threading it would otherwise parse every header again on every request (the webmail's
//! sorted lists and conversations, IMAP SORT and THREAD). Same key, same rules, its own
//! byte budget (an estimate: the strings' lengths and a fixed overhead per entry).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::supervisor::lock;
use crate::protocols::imap::backend::header_len;
use crate::protocols::imap::sort::{sort_fields_of, SortInput};
use crate::storage::BlobId;

/// Headers longer than this are read whole each time, not cached.
const MAX_HEADER: usize = 64 * 1024;

/// Cached headers and their total size in bytes.
type Entries = (HashMap<BlobId, Arc<[u8]>>, usize);

/// Parsed sort fields and their estimated total size in bytes.
type SortEntries = (HashMap<BlobId, Arc<SortInput>>, usize);

/// What an entry of the sort fields costs besides its strings (map slot, Arc, struct).
const SORT_ENTRY_OVERHEAD: usize = 256;

#[derive(Debug)]
pub struct HeaderCache {
    budget: usize,
    inner: Mutex<Entries>,
    sort: Mutex<SortEntries>,
}

impl HeaderCache {
    /// A cache of at most `budget` bytes of headers, and as many of parsed sort fields.
    pub fn new(budget: usize) -> HeaderCache {
        HeaderCache {
            budget,
            inner: Mutex::new((HashMap::new(), 0)),
            sort: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// What SORT and THREAD read of the body file at `path`'s header, from the cache or
    /// parsed (through the header cache) and cached.
    pub fn sort_fields(&self, id: &BlobId, path: &Path) -> std::io::Result<Arc<SortInput>> {
        if let Some(f) = lock(&self.sort).0.get(id) {
            return Ok(f.clone());
        }
        let fields = Arc::new(sort_fields_of(&self.get(id, path)?));
        let cost = SORT_ENTRY_OVERHEAD
            + fields.subject.len()
            + fields.from.len()
            + fields.to.len()
            + fields.cc.len()
            + fields.message_id.as_ref().map_or(0, String::len)
            + fields.in_reply_to.as_ref().map_or(0, String::len)
            + fields.references.iter().map(String::len).sum::<usize>();
        let mut sort = lock(&self.sort);
        if sort.1 + cost > self.budget {
            sort.0.clear();
            sort.1 = 0;
        }
        sort.1 += cost;
        sort.0.insert(*id, fields.clone());
        Ok(fields)
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

    #[test]
    fn caches_parsed_sort_fields_by_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(
            &path,
            b"Subject: Re: lunch\r\nFrom: Ann <ann@example.com>\r\nMessage-ID: <1@x>\r\n\
              References: <0@x>\r\n\r\nbody\r\n",
        )
        .unwrap();
        let cache = HeaderCache::new(64 * 1024);
        let id = BlobId([3; 32]);
        let f = cache.sort_fields(&id, &path).unwrap();
        assert_eq!(f.subject, "Re: lunch");
        assert_eq!(f.from, "Ann <ann@example.com>");
        assert_eq!(f.message_id.as_deref(), Some("<1@x>"));
        assert_eq!(f.references, vec!["<0@x>".to_string()]);
        assert_eq!((f.seq_or_uid, f.arrival, f.size), (0, 0, 0));
        // Served from memory now: the same entry, even with the file gone.
        std::fs::remove_file(&path).unwrap();
        assert!(Arc::ptr_eq(&f, &cache.sort_fields(&id, &path).unwrap()));
        // A body not yet seen is read (and its absence noticed).
        assert!(cache.sort_fields(&BlobId([4; 32]), &path).is_err());
    }
}
