//! Methods not written yet for PostgreSQL (removed one by one as they are).

use std::collections::HashSet;
use std::net::IpAddr;

use super::PgStore;
use crate::storage::*;

fn todo(name: &str) -> StorageError {
    StorageError::Backend(format!("PostgreSQL backend: {name} is not implemented yet"))
}

impl PgStore {
    pub(crate) fn fetch_accept(&self, msg: &FetchedMessage) -> Result<Accepted, StorageError> {
        let _ = (msg,);
        Err(todo("fetch_accept"))
    }

    pub(crate) fn dkim_add(
        &self,
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        public_key: &str,
        private_pem: &[u8],
        created: i64,
    ) -> Result<DkimKey, StorageError> {
        let _ = (
            domain,
            selector,
            algorithm,
            public_key,
            private_pem,
            created,
        );
        Err(todo("dkim_add"))
    }

    pub(crate) fn dkim_list(&self, domain: &str) -> Result<Vec<DkimKey>, StorageError> {
        let _ = (domain,);
        Err(todo("dkim_list"))
    }

    pub(crate) fn dkim_active(&self, domain: &str) -> Result<Option<DkimKey>, StorageError> {
        let _ = (domain,);
        Err(todo("dkim_active"))
    }

    pub(crate) fn dkim_activate(
        &self,
        domain: &str,
        selector: &str,
    ) -> Result<DkimKey, StorageError> {
        let _ = (domain, selector);
        Err(todo("dkim_activate"))
    }

    pub(crate) fn dkim_delete(&self, domain: &str, selector: &str) -> Result<(), StorageError> {
        let _ = (domain, selector);
        Err(todo("dkim_delete"))
    }

    pub(crate) fn dkim_private_key(&self, key: &DkimKey) -> Result<Vec<u8>, StorageError> {
        let _ = (key,);
        Err(todo("dkim_private_key"))
    }

    pub(crate) fn seal_secret(&self, plaintext: &str) -> Result<Vec<u8>, StorageError> {
        let _ = (plaintext,);
        Err(todo("seal_secret"))
    }

    pub(crate) fn open_secret(&self, sealed: &[u8]) -> Result<String, StorageError> {
        let _ = (sealed,);
        Err(todo("open_secret"))
    }

    pub(crate) fn fetch_add_source(
        &self,
        source: FetchSource,
    ) -> Result<FetchSource, StorageError> {
        let _ = (source,);
        Err(todo("fetch_add_source"))
    }

    pub(crate) fn fetch_set_domainpop(
        &self,
        source: FetchSource,
    ) -> Result<FetchSource, StorageError> {
        let _ = (source,);
        Err(todo("fetch_set_domainpop"))
    }

    pub(crate) fn fetch_source(&self, id: SourceId) -> Result<Option<FetchSource>, StorageError> {
        let _ = (id,);
        Err(todo("fetch_source"))
    }

    pub(crate) fn fetch_sources(&self) -> Result<Vec<FetchSource>, StorageError> {
        Err(todo("fetch_sources"))
    }

    pub(crate) fn fetch_domainpop(
        &self,
        domain: &str,
    ) -> Result<Option<FetchSource>, StorageError> {
        let _ = (domain,);
        Err(todo("fetch_domainpop"))
    }

    pub(crate) fn fetch_del_source(&self, id: SourceId) -> Result<FetchSource, StorageError> {
        let _ = (id,);
        Err(todo("fetch_del_source"))
    }

    pub(crate) fn fetch_status(&self, id: SourceId) -> Result<FetchStatus, StorageError> {
        let _ = (id,);
        Err(todo("fetch_status"))
    }

    pub(crate) fn fetch_set_status(
        &self,
        id: SourceId,
        status: &FetchStatus,
    ) -> Result<(), StorageError> {
        let _ = (id, status);
        Err(todo("fetch_set_status"))
    }

    pub(crate) fn fetch_seen(&self, source: SourceId) -> Result<HashSet<String>, StorageError> {
        let _ = (source,);
        Err(todo("fetch_seen"))
    }

    pub(crate) fn fetch_forget_gone(
        &self,
        source: SourceId,
        on_server: &HashSet<String>,
    ) -> Result<usize, StorageError> {
        let _ = (source, on_server);
        Err(todo("fetch_forget_gone"))
    }

    pub(crate) fn fetch_expire_dedup(
        &self,
        source: SourceId,
        window: u64,
        now: i64,
    ) -> Result<usize, StorageError> {
        let _ = (source, window, now);
        Err(todo("fetch_expire_dedup"))
    }

    pub(crate) fn fetch_is_seen(&self, source: SourceId, mark: &str) -> Result<bool, StorageError> {
        let _ = (source, mark);
        Err(todo("fetch_is_seen"))
    }

    pub(crate) fn mta_sts_get(
        &self,
        domain: &str,
    ) -> Result<Option<CachedStsPolicy>, StorageError> {
        let _ = (domain,);
        Err(todo("mta_sts_get"))
    }

    pub(crate) fn mta_sts_put(
        &self,
        domain: &str,
        p: &CachedStsPolicy,
    ) -> Result<(), StorageError> {
        let _ = (domain, p);
        Err(todo("mta_sts_put"))
    }

    pub(crate) fn tlsrpt_add(
        &self,
        day: u32,
        domain: &str,
        r: &TlsResult,
    ) -> Result<(), StorageError> {
        let _ = (day, domain, r);
        Err(todo("tlsrpt_add"))
    }

    pub(crate) fn tlsrpt_list(
        &self,
    ) -> Result<Vec<(u32, String, Vec<TlsPolicyCounts>)>, StorageError> {
        Err(todo("tlsrpt_list"))
    }

    pub(crate) fn tlsrpt_remove(&self, day: u32, domain: &str) -> Result<(), StorageError> {
        let _ = (day, domain);
        Err(todo("tlsrpt_remove"))
    }

    pub(crate) fn screen_load(&self) -> Result<ScreenSnapshot, StorageError> {
        Err(todo("screen_load"))
    }

    pub(crate) fn screen_put_address(
        &self,
        ip: IpAddr,
        rec: Option<&ScreenRecord>,
    ) -> Result<(), StorageError> {
        let _ = (ip, rec);
        Err(todo("screen_put_address"))
    }

    pub(crate) fn screen_put_account(
        &self,
        account: &str,
        times: Option<&Vec<i64>>,
    ) -> Result<(), StorageError> {
        let _ = (account, times);
        Err(todo("screen_put_account"))
    }

    pub(crate) fn screen_put_rule(
        &self,
        rule: ScreenRule,
        network: &str,
        present: bool,
    ) -> Result<(), StorageError> {
        let _ = (rule, network, present);
        Err(todo("screen_put_rule"))
    }
}
