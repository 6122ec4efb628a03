-- Calendar and contact collections and their objects (issue 15, storage::davstore).
-- Everything goes with its account (ON DELETE CASCADE), objects and tombstones with their
-- collection.

-- A calendar (components: VEVENT, VTODO, ...) or an address book; `sync` is its change
-- counter (the sync-token), `expired_below` the oldest token still answered.
CREATE TABLE dav_collections (
    id            bigserial PRIMARY KEY,
    owner         text NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    name          text NOT NULL,
    kind          text NOT NULL,            -- calendar | addressbook
    display_name  text NOT NULL,
    color         text NOT NULL,
    description   text NOT NULL,
    components    text[] NOT NULL,
    sync          bigint NOT NULL DEFAULT 0,
    expired_below bigint NOT NULL DEFAULT 0,
    tombstones    bigint NOT NULL DEFAULT 0,
    UNIQUE (owner, name)
);

-- Owners that were given the default collections (once: deleting them is final).
CREATE TABLE dav_homes (
    owner text PRIMARY KEY REFERENCES accounts (address) ON DELETE CASCADE
);

-- Calendar object and address object resources; `changed` is the collection's counter at
-- the object's last put; first_start/last_end the indexed span of its instances (NULL
-- first_start: undated, matches every range; NULL last_end: unbounded).
CREATE TABLE dav_objects (
    collection  bigint NOT NULL REFERENCES dav_collections (id) ON DELETE CASCADE,
    name        text NOT NULL,
    uid         text NOT NULL,
    etag        text NOT NULL,
    data        text NOT NULL,
    component   text NOT NULL,
    first_start bigint,
    last_end    bigint,
    changed     bigint NOT NULL,
    PRIMARY KEY (collection, name),
    UNIQUE (collection, uid)
);
CREATE INDEX dav_objects_changed ON dav_objects (collection, changed);
CREATE INDEX dav_objects_span ON dav_objects (collection, first_start);

-- Deleted names, at the counter of their deletion (for sync-collection).
CREATE TABLE dav_tombstones (
    collection bigint NOT NULL REFERENCES dav_collections (id) ON DELETE CASCADE,
    changed    bigint NOT NULL,
    name       text NOT NULL,
    PRIMARY KEY (collection, changed)
);
CREATE INDEX dav_tombstones_name ON dav_tombstones (collection, name);
