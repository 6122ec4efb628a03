-- When a calendar or contact object was last written (storage::davstore's
-- DavObject::modified, Unix seconds): DAV's getlastmodified and Last-Modified. Objects
-- stored before it read 0 (unknown), as sled reads its older records.
ALTER TABLE dav_objects ADD COLUMN modified bigint NOT NULL DEFAULT 0;
