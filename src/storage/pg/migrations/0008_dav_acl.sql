-- Sharing of calendars and address books (issue 15, storage::davstore "Sharing"): one row
-- per (collection, identifier), as the `acl` table keeps IMAP folders' ACLs.
--
-- Public collections belong to the empty owner '' (no account), so the owner's foreign
-- key goes: deleting an account deletes its collections (and its entries in others' ACLs)
-- itself, in the account's deletion transaction.
ALTER TABLE dav_collections DROP CONSTRAINT dav_collections_owner_fkey;

CREATE TABLE dav_acl (
    collection bigint NOT NULL REFERENCES dav_collections (id) ON DELETE CASCADE,
    identifier text NOT NULL,
    rights     text NOT NULL,
    PRIMARY KEY (collection, identifier)
);
CREATE INDEX dav_acl_identifier ON dav_acl (identifier);
