-- Ferrymail PostgreSQL schema, version 1. Applied once, in one transaction, by
-- storage::pg::schema; never edited after a release (a change is a new numbered file).
-- Integers that are unsigned in Rust are stored in bigint (u32 fits; u64 counters stay far
-- below 2^63). Blob ids are the 32-byte sha256 of the body.

-- ---- counters and cluster ------------------------------------------------------------
-- Named counters: 'uidvalidity' (the last one handed out; seeded from the clock).
CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);

-- One row per node; `seen` is renewed by the node's heartbeat.
CREATE TABLE nodes (
    name    text PRIMARY KEY,
    started timestamptz NOT NULL,
    seen    timestamptz NOT NULL,
    version text NOT NULL
);

-- ---- directory ------------------------------------------------------------------------
CREATE TABLE domains (
    name    text PRIMARY KEY,           -- lowercase
    created bigint NOT NULL
);

CREATE TABLE accounts (
    address text PRIMARY KEY,           -- lowercase
    domain  text NOT NULL REFERENCES domains (name),
    hash    text NOT NULL,              -- argon2id PHC string
    admin   boolean NOT NULL,
    created bigint NOT NULL
);
CREATE INDEX accounts_domain ON accounts (domain);

CREATE TABLE aliases (
    alias   text NOT NULL,              -- lowercase
    target  text NOT NULL,
    pos     integer NOT NULL,           -- order of the targets
    PRIMARY KEY (alias, target)
);

-- Limits and usage; one row per account that has either (public folders count nowhere).
CREATE TABLE quota (
    account        text PRIMARY KEY,
    storage_used   bigint NOT NULL DEFAULT 0,
    messages_used  bigint NOT NULL DEFAULT 0,
    storage_limit  bigint,
    messages_limit bigint
);

-- Sender rights: bincode `SenderRights` per account.
CREATE TABLE sender_rights (
    account text PRIMARY KEY,
    rights  bytea NOT NULL
);

-- ---- folders --------------------------------------------------------------------------
-- The folder row is the per-folder lock: every message write takes it FOR UPDATE, so UIDs
-- and modseqs stay strictly increasing whichever node appends.
CREATE TABLE folders (
    id            bigint PRIMARY KEY,
    account       text NOT NULL,        -- '' for public folders
    name          text NOT NULL,        -- INBOX stored as 'INBOX'
    name_key      text NOT NULL,        -- name with INBOX uppercased: the unique key
    special_use   text,
    uidvalidity   bigint NOT NULL,
    uidnext       bigint NOT NULL,
    highest_modseq bigint NOT NULL,
    exists_count  bigint NOT NULL DEFAULT 0,
    unseen        bigint NOT NULL DEFAULT 0,
    deleted       bigint NOT NULL DEFAULT 0,
    size          bigint NOT NULL DEFAULT 0,
    subscribed    boolean NOT NULL,
    noselect      boolean NOT NULL DEFAULT false,
    recent_from   bigint NOT NULL DEFAULT 1,
    keywords      text[] NOT NULL DEFAULT '{}',
    expunged_count bigint NOT NULL DEFAULT 0,
    UNIQUE (account, name_key)
);
CREATE SEQUENCE folder_ids;

CREATE TABLE messages (
    folder        bigint NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    uid           bigint NOT NULL,
    modseq        bigint NOT NULL,
    system_flags  smallint NOT NULL,
    keywords      text[] NOT NULL DEFAULT '{}',
    size          bigint NOT NULL,
    internal_date bigint NOT NULL,
    save_date     bigint NOT NULL,
    blob          bytea NOT NULL,
    PRIMARY KEY (folder, uid)
);
CREATE INDEX messages_modseq ON messages (folder, modseq);

CREATE TABLE expunged (
    folder bigint NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    uid    bigint NOT NULL,
    modseq bigint NOT NULL,
    PRIMARY KEY (folder, uid)
);
CREATE INDEX expunged_modseq ON expunged (folder, modseq);

CREATE TABLE acl (
    folder     bigint NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    identifier text NOT NULL,
    rights     text NOT NULL,
    PRIMARY KEY (folder, identifier)
);
CREATE INDEX acl_identifier ON acl (identifier);

CREATE TABLE subscriptions (
    account text NOT NULL,
    name    text NOT NULL,
    PRIMARY KEY (account, name)
);

-- METADATA (RFC 5464): folder 0 is the server.
CREATE TABLE metadata (
    folder  bigint NOT NULL,
    owner   text NOT NULL,              -- '' for /shared entries, the user for /private
    name    text NOT NULL,              -- lowercase
    value   bytea NOT NULL,
    PRIMARY KEY (folder, owner, name)
);

CREATE TABLE urlauth (
    folder bigint NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    "user" text NOT NULL,
    key    bytea NOT NULL,
    PRIMARY KEY (folder, "user")
);

-- ---- queues and bodies ----------------------------------------------------------------
-- One table for the six queues. `record` is the bincode `QueueRecord`; `blob` repeats its
-- body id for the reference checks. A record is worked on by the node holding its lease:
-- `lease_owner` and `lease_until` (NULL: free to claim).
CREATE TABLE queue (
    id          bigint PRIMARY KEY,
    queue       text NOT NULL,
    blob        bytea NOT NULL,
    record      bytea NOT NULL,
    lease_owner text,
    lease_until timestamptz
);
CREATE INDEX queue_by_queue ON queue (queue, id);
CREATE INDEX queue_by_lease ON queue (lease_owner);
-- Queue ids: unique and increasing across nodes (no cache, so one node's ids never run
-- ahead of another's block).
CREATE SEQUENCE queue_ids;

-- Reference counts of the body files; a row exists while the count is above 0.
CREATE TABLE blobrefs (
    blob     bytea PRIMARY KEY,
    refcount bigint NOT NULL CHECK (refcount > 0)
);

-- ---- the smaller stores ---------------------------------------------------------------
-- (DKIM, fetch, TLS policy and screening tables follow, one section each.)

-- ---- messages -------------------------------------------------------------------------
-- Every expunge of the folder with a modseq above this is still in `expunged` (QRESYNC,
-- RFC 7162 §3.2.5.2); older ones were forgotten once more than the kept number piled up.
ALTER TABLE folders ADD COLUMN vanished_horizon bigint NOT NULL DEFAULT 0;

-- ---- storage migrate ------------------------------------------------------------------
-- What `ferrymail storage migrate` has copied so far, so that a run that was interrupted
-- continues where it stopped: 'source' (value: the data directory copied; another source is
-- refused), 'directory', 'folder:<id>' (value: the last UID copied, or 'done'),
-- 'queue:<name>' (value: the last queue id copied), 'store:<name>' (value: the rows of
-- that smaller store copied: dkim, fetch, tls policy, screening), 'bodies' (value: the last
-- body copied to another directory, hex), 'blobrefs' (value: the last blob, hex),
-- 'counters', 'complete'. Each batch writes its rows and its progress in one transaction.
CREATE TABLE migration_progress (
    item  text PRIMARY KEY,
    value text NOT NULL DEFAULT '',
    done  timestamptz NOT NULL DEFAULT now()
);

-- ---- DKIM -----------------------------------------------------------------------------
-- Signing keys, several selectors per domain. The private key (PEM) is here, not in a
-- node-local file, so that every node signs with it. `algorithm` is 'rsa' or 'ed25519'. At
-- most one key per domain is active (the index); writes of one domain's keys take an
-- advisory lock, so "the first key becomes active" holds with several nodes.
-- No reference to `domains`: as with the embedded backend, keys outlive their domain.
CREATE TABLE dkim_keys (
    domain      text NOT NULL,          -- lowercase ASCII
    selector    text NOT NULL,          -- lowercase
    algorithm   text NOT NULL,
    created     bigint NOT NULL,
    active      boolean NOT NULL,
    public_key  text NOT NULL,          -- the base64 `p=` value
    private_key bytea NOT NULL,         -- PEM
    PRIMARY KEY (domain, selector)
);
CREATE UNIQUE INDEX dkim_one_active ON dkim_keys (domain) WHERE active;

-- ---- fetch ----------------------------------------------------------------------------
-- The key sealing fetch passwords (name 'fetch'), shared by every node: made once by
-- whichever node needs it first (INSERT … ON CONFLICT DO NOTHING, then read back).
CREATE TABLE secrets (
    name text PRIMARY KEY,
    key  bytea NOT NULL
);

-- Fetch sources (MultiPOP, DomainPOP). `source` is the bincode `FetchSource` (its `id` is
-- the row's); `owner` the owning account or domain, lowercase (deleted with it);
-- `domainpop` marks a domain's source. Source writes take the advisory lock "fetch
-- sources" (ids are the highest plus one; a domain's DomainPOP source is replaced in place).
CREATE TABLE fetch_sources (
    id        bigint PRIMARY KEY,
    owner     text NOT NULL,
    domainpop boolean NOT NULL,
    source    bytea NOT NULL
);
CREATE INDEX fetch_sources_owner ON fetch_sources (owner);

-- How the runs of a source went: bincode `FetchStatus`.
CREATE TABLE fetch_status (
    source bigint PRIMARY KEY REFERENCES fetch_sources (id) ON DELETE CASCADE,
    status bytea NOT NULL
);

-- What was taken in from a source (exactly once: the mark is written in the transaction
-- that writes the queue records). `mark` is the UIDL, or "UIDVALIDITY:UID".
CREATE TABLE fetch_seen (
    source     bigint NOT NULL REFERENCES fetch_sources (id) ON DELETE CASCADE,
    mark       text NOT NULL,
    fetched_at bigint NOT NULL,
    PRIMARY KEY (source, mark)
);

-- Duplicate suppression (DomainPOP): when a Message-ID last went to a recipient.
CREATE TABLE fetch_dedup (
    source       bigint NOT NULL REFERENCES fetch_sources (id) ON DELETE CASCADE,
    recipient    text NOT NULL,         -- lowercase
    message_id   text NOT NULL,
    delivered_at bigint NOT NULL,
    PRIMARY KEY (source, recipient, message_id)
);

-- ---- TLS policy -----------------------------------------------------------------------
-- The MTA-STS policy cache (RFC 8461 §5.1), by policy domain (lowercase).
CREATE TABLE mta_sts (
    domain     text PRIMARY KEY,
    id         text NOT NULL,
    text       text NOT NULL,
    fetched_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

-- TLSRPT counters (RFC 8460 §4) per day (days since 1970) and policy domain (lowercase):
-- bincode `Vec<TlsPolicyCounts>`, updated under the row's lock.
CREATE TABLE tlsrpt (
    day    bigint NOT NULL,
    domain text NOT NULL,
    counts bytea NOT NULL,
    PRIMARY KEY (day, domain)
);

-- ---- screening ------------------------------------------------------------------------
-- Dynamic screening: per-address records (bincode `ScreenRecord`), per-account failure
-- times, and the allow/deny rules (`rule` 'allow' or 'deny', the network as written).
CREATE TABLE screen_addresses (
    address text PRIMARY KEY,           -- as `IpAddr` prints it
    record  bytea NOT NULL
);

CREATE TABLE screen_accounts (
    account text PRIMARY KEY,
    times   bigint[] NOT NULL
);

CREATE TABLE screen_rules (
    rule    text NOT NULL,
    network text NOT NULL,
    PRIMARY KEY (rule, network)
);
