-- When a calendar or address book last changed (storage::davstore's
-- DavCollection::modified, Unix seconds from the database's clock): a member put or
-- deleted, or its properties set. The collection's getlastmodified. Collections made before
-- it read 0 (unknown) until their next change, as sled reads its older records.
ALTER TABLE dav_collections ADD COLUMN modified bigint NOT NULL DEFAULT 0;
