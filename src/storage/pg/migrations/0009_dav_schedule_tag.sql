-- The Schedule-Tag of calendar objects (RFC 6638 §3.2.10; storage::davstore's
-- DavObject::schedule_tag): the collection's counter value of the object's last
-- scheduling-significant change. Objects stored before it get their last change's.
ALTER TABLE dav_objects ADD COLUMN schedule_tag bigint NOT NULL DEFAULT 0;
UPDATE dav_objects SET schedule_tag = changed;
