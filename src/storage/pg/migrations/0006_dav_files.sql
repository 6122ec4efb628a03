-- The WebDAV file store (storage::davfiles): one row per collection or resource of an
-- account, keyed by its path below the account's root ('' for the root's own row, which
-- exists only once it has dead properties; '/a/b' below). A resource has a blob (counted
-- in blobrefs); a collection has none. Rows go with their account.
CREATE TABLE dav_files (
    account      text NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    path         text NOT NULL,
    blob         bytea,                 -- NULL: a collection
    size         bigint NOT NULL,
    content_type text NOT NULL,
    created      bigint NOT NULL,
    modified     bigint NOT NULL,
    version      bigint NOT NULL,
    props        text NOT NULL,         -- JSON array of {ns, local, value}
    PRIMARY KEY (account, path)
);
CREATE INDEX dav_files_blob ON dav_files (blob) WHERE blob IS NOT NULL;
