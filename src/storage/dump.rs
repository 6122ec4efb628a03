//! What `storage migrate` carries from one backend to another that the storage traits do
//! not give: the raw parts of the directory (creation times, password hashes), a folder's
//! hidden state (its name key, \Recent watermark, expunge history), metadata and URLAUTH
//! keys of every user, reference counts and the id counters, and the rows of the smaller
//! stores ([`SmallRow`]: DKIM private keys, fetch marks, caches). The embedded backend fills
//! these in (through [`Export`]), the PostgreSQL backend writes them (`pg::import`); everything
//! else travels as the traits' own types ([`MessageRecord`], [`QueueRecord`], …).

use std::net::IpAddr;

use super::davstore::{DavCollection, DavObject};
use super::{ApiKeyRecord, DeviceRecord, TotpState};
use super::{
    BlobId, CachedStsPolicy, DkimKey, FetchSource, FetchStatus, FolderId, FolderState, Quota,
    ScreenRecord, SenderRights, SourceId, StorageError, TlsPolicyCounts,
};

/// One account as stored: the password hash travels as it is (argon2id PHC string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccountDump {
    pub(crate) address: String,
    pub(crate) hash: String,
    pub(crate) admin: bool,
    pub(crate) created: u64,
    pub(crate) disabled: bool,
}

/// One METADATA entry (RFC 5464): `folder` 0 is the server; `owner` is "" for `/shared`
/// entries and the user for `/private` ones.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MetadataDump {
    pub(crate) folder: FolderId,
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) value: Vec<u8>,
}

/// Everything that is not a folder, a message or a queue record.
#[derive(Clone, Debug, Default)]
pub(crate) struct DirectoryDump {
    /// (domain, created).
    pub(crate) domains: Vec<(String, u64)>,
    pub(crate) accounts: Vec<AccountDump>,
    /// (alias, targets in order).
    pub(crate) aliases: Vec<(String, Vec<String>)>,
    /// Accounts with limits or usage.
    pub(crate) quotas: Vec<(String, Quota)>,
    pub(crate) sender_rights: Vec<(String, SenderRights)>,
    /// (account, name) of every subscription.
    pub(crate) subscriptions: Vec<(String, String)>,
    /// The server's entries (folder 0).
    pub(crate) server_metadata: Vec<MetadataDump>,
}

/// A folder with what its state does not show.
#[derive(Clone, Debug)]
pub(crate) struct FolderDump {
    pub(crate) state: FolderState,
    /// The unique name key (INBOX uppercased).
    pub(crate) name_key: String,
    /// The \Recent watermark: messages with uid >= it are recent for the next claimer.
    pub(crate) recent_from: u32,
    /// Keywords ever used, in order of first use.
    pub(crate) keywords: Vec<String>,
    pub(crate) vanished_horizon: u64,
}

/// A folder's dependent rows, besides its messages.
#[derive(Clone, Debug, Default)]
pub(crate) struct FolderExtras {
    /// (uid, modseq of the expunge), by uid.
    pub(crate) expunged: Vec<(u32, u64)>,
    /// (identifier, rights).
    pub(crate) acl: Vec<(String, String)>,
    pub(crate) metadata: Vec<MetadataDump>,
    /// (user, URLAUTH access key).
    pub(crate) urlauth: Vec<(String, Vec<u8>)>,
}

/// The counters a copy must continue from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// The last UIDVALIDITY handed out.
    pub(crate) uidvalidity: u32,
    /// Above every folder id and queue id handed out so far.
    pub(crate) id_watermark: u64,
}

/// A reference count as stored.
pub(crate) type RefCount = (BlobId, u64);

/// A checksum both sides of a migration compute the same way over what they hold: a
/// folder's state and its messages (uid, modseq, flags, blob), or a queue's records. Every
/// field is length-prefixed, so no two different sequences hash alike by concatenation.
pub(crate) struct Checksum {
    hasher: sha2::Sha256,
    /// Items (messages, records) hashed.
    pub(crate) count: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            hasher: sha2::Digest::new(),
            count: 0,
        }
    }
}

impl Checksum {
    fn field(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.hasher, (bytes.len() as u64).to_be_bytes());
        sha2::Digest::update(&mut self.hasher, bytes);
    }

    /// A folder's state and hidden counters (not an item).
    pub(crate) fn folder(&mut self, f: &FolderDump) {
        let s = &f.state;
        self.field(s.account.as_bytes());
        self.field(s.name.as_bytes());
        self.field(f.name_key.as_bytes());
        self.field(s.special_use.as_deref().unwrap_or("").as_bytes());
        for n in [
            u64::from(s.uidvalidity),
            u64::from(s.uidnext),
            s.highest_modseq,
            u64::from(s.exists),
            u64::from(s.unseen),
            u64::from(s.deleted),
            s.size,
            u64::from(s.subscribed),
            u64::from(s.noselect),
            u64::from(f.recent_from),
            f.vanished_horizon,
        ] {
            self.field(&n.to_be_bytes());
        }
        for k in &f.keywords {
            self.field(k.as_bytes());
        }
    }

    /// One message.
    pub(crate) fn message(
        &mut self,
        uid: u32,
        modseq: u64,
        system: u8,
        keywords: &[String],
        blob: &BlobId,
    ) {
        self.count += 1;
        self.field(&uid.to_be_bytes());
        self.field(&modseq.to_be_bytes());
        self.field(&[system]);
        self.field(&(keywords.len() as u64).to_be_bytes());
        for k in keywords {
            self.field(k.as_bytes());
        }
        self.field(&blob.0);
    }

    /// One record, as its encoded bytes.
    pub(crate) fn record(&mut self, bytes: &[u8]) {
        self.count += 1;
        self.field(bytes);
    }

    /// (items, hex digest).
    pub(crate) fn finish(self) -> (u64, String) {
        (self.count, hex::encode(sha2::Digest::finalize(self.hasher)))
    }
}

/// A row of the smaller stores: DKIM keys (with the private key), fetch sources and what
/// is remembered of them, the MTA-STS cache and TLSRPT counts, the screening state, and
/// the web front's TOTP state and API keys, the snooze records.
/// Both backends list them the same way ([`Export`], `pg::import`), so a copy can be
/// written in batches and compared.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SmallRow {
    Dkim(DkimKey, Vec<u8>),
    /// The password is sealed with the key of the store it was read from.
    FetchSource(FetchSource),
    FetchStatus(SourceId, FetchStatus),
    /// (source, mark, fetched at).
    FetchSeen(SourceId, String, i64),
    /// (source, recipient, Message-ID, delivered at).
    FetchDedup(SourceId, String, String, i64),
    MtaSts(String, CachedStsPolicy),
    TlsRpt(u32, String, Vec<TlsPolicyCounts>),
    ScreenAddress(IpAddr, ScreenRecord),
    ScreenAccount(String, Vec<i64>),
    /// ("allow" or "deny", network as written).
    ScreenRule(&'static str, String),
    /// (account, its TOTP state).
    Totp(String, TotpState),
    ApiKey(ApiKeyRecord),
    Snooze(crate::storage::SnoozeRecord),
    /// A remembered device (`storage::devices`), copied in the web auth phase.
    Device(DeviceRecord),
    /// A calendar or address book; its id is the source's (the target chooses its own) and
    /// its tombstones are not copied (the target's token history starts at the counter).
    DavCollection(DavCollection),
    /// (owner, collection name, object).
    DavObject(String, String, DavObject),
    /// An owner that was given the default collections.
    DavHome(String),
    /// (owner, collection name, identifier, rights): one entry of a collection's ACL.
    DavAcl(String, String, String, String),
}

/// The smaller stores; each is one phase and one progress entry of a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SmallStore {
    Dkim,
    Fetch,
    TlsPolicy,
    Screening,
    WebAuth,
    Snooze,
    Dav,
}

impl SmallStore {
    /// In the order they are copied.
    pub(crate) const ALL: [SmallStore; 7] = [
        SmallStore::Dkim,
        SmallStore::Fetch,
        SmallStore::TlsPolicy,
        SmallStore::Screening,
        SmallStore::WebAuth,
        SmallStore::Snooze,
        SmallStore::Dav,
    ];

    /// The name of its phase and of its progress entry.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SmallStore::Dkim => "dkim",
            SmallStore::Fetch => "fetch",
            SmallStore::TlsPolicy => "tls policy",
            SmallStore::Screening => "screening",
            SmallStore::WebAuth => "web auth",
            SmallStore::Snooze => "snooze",
            SmallStore::Dav => "calendars and contacts",
        }
    }
}

impl SmallRow {
    /// The PostgreSQL table the row goes to (the verification counts rows per table).
    pub(crate) fn table(&self) -> &'static str {
        match self {
            SmallRow::Dkim(..) => "dkim_keys",
            SmallRow::FetchSource(_) => "fetch_sources",
            SmallRow::FetchStatus(..) => "fetch_status",
            SmallRow::FetchSeen(..) => "fetch_seen",
            SmallRow::FetchDedup(..) => "fetch_dedup",
            SmallRow::MtaSts(..) => "mta_sts",
            SmallRow::TlsRpt(..) => "tlsrpt",
            SmallRow::ScreenAddress(..) => "screen_addresses",
            SmallRow::ScreenAccount(..) => "screen_accounts",
            SmallRow::ScreenRule(..) => "screen_rules",
            SmallRow::Totp(..) => "totp",
            SmallRow::ApiKey(_) => "api_keys",
            SmallRow::Snooze(_) => "snooze",
            SmallRow::Device(_) => "remembered_devices",
            SmallRow::DavCollection(_) => "dav_collections",
            SmallRow::DavObject(..) => "dav_objects",
            SmallRow::DavHome(_) => "dav_homes",
            SmallRow::DavAcl(..) => "dav_acl",
        }
    }

    /// The row's bytes for [`small_checksum`]. A fetch password is left out: it is sealed
    /// with another key on each side (the verification opens and compares them instead).
    fn checksum_bytes(&self) -> Result<Vec<u8>, StorageError> {
        let encoded = match self {
            SmallRow::Dkim(k, private) => bincode::serialize(&(
                &k.domain,
                &k.selector,
                k.algorithm,
                k.created,
                k.active,
                &k.public_key,
                private,
            )),
            SmallRow::FetchSource(s) => bincode::serialize(&FetchSource {
                password: Vec::new(),
                ..s.clone()
            }),
            SmallRow::FetchStatus(id, s) => bincode::serialize(&(id, s)),
            SmallRow::FetchSeen(id, mark, at) => bincode::serialize(&(id, mark, at)),
            SmallRow::FetchDedup(id, r, m, at) => bincode::serialize(&(id, r, m, at)),
            SmallRow::MtaSts(d, p) => bincode::serialize(&(d, p)),
            SmallRow::TlsRpt(day, d, c) => bincode::serialize(&(day, d, c)),
            SmallRow::ScreenAddress(ip, r) => bincode::serialize(&(ip, r)),
            SmallRow::ScreenAccount(a, t) => bincode::serialize(&(a, t)),
            SmallRow::ScreenRule(rule, net) => bincode::serialize(&(rule, net)),
            SmallRow::Totp(account, state) => bincode::serialize(&(account, state)),
            SmallRow::ApiKey(key) => bincode::serialize(key),
            SmallRow::Snooze(rec) => bincode::serialize(rec),
            SmallRow::Device(device) => bincode::serialize(device),
            // Without the id (each backend chooses its own) and the tombstone state (not
            // copied).
            SmallRow::DavCollection(c) => bincode::serialize(&(
                &c.owner,
                &c.name,
                c.kind,
                &c.props,
                &c.components,
                c.sync,
                c.modified,
            )),
            SmallRow::DavObject(owner, name, o) => bincode::serialize(&(owner, name, o)),
            SmallRow::DavHome(owner) => bincode::serialize(owner),
            SmallRow::DavAcl(owner, name, id, rights) => {
                bincode::serialize(&(owner, name, id, rights))
            }
        };
        let mut bytes = self.table().as_bytes().to_vec();
        bytes.extend(encoded.map_err(|e| StorageError::Encoding(format!("{e}")))?);
        Ok(bytes)
    }
}

/// (rows, hex digest) of one smaller store's rows, whatever order they were listed in.
pub(crate) fn small_checksum(rows: &[SmallRow]) -> Result<(u64, String), StorageError> {
    let mut encoded = rows
        .iter()
        .map(SmallRow::checksum_bytes)
        .collect::<Result<Vec<_>, _>>()?;
    encoded.sort();
    let mut sum = Checksum::default();
    for bytes in &encoded {
        sum.record(bytes);
    }
    Ok(sum.finish())
}

/// What `storage migrate` reads from its source beyond the storage traits: the embedded
/// backend's own records, implemented in its `export` module (which also opens one, see
/// `open_embedded` there). Reads only, except `export_counters` (see its implementation).
pub(crate) trait Export: super::Shared {
    /// Domains, accounts (with their hashes), aliases, quotas, sender rights, subscriptions
    /// and the server's metadata.
    fn export_directory(&self) -> Result<DirectoryDump, StorageError>;

    /// Every folder with its identity and counters, by id.
    fn export_folders(&self) -> Result<Vec<FolderDump>, StorageError>;

    /// What a folder holds beside its messages (expunge history, metadata, URLAUTH keys, ...).
    fn export_folder_extras(&self, id: FolderId) -> Result<FolderExtras, StorageError>;

    /// Every body's reference count, by blob.
    fn export_refcounts(&self) -> Result<Vec<RefCount>, StorageError>;

    /// Values above every id and UIDVALIDITY handed out.
    fn export_counters(&self) -> Result<Counters, StorageError>;

    /// The rows of one of the smaller stores, in a stable order.
    fn export_small(&self, store: SmallStore) -> Result<Vec<SmallRow>, StorageError>;
}
