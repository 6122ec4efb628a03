-- The queues' domain index (storage::queue_index): the lowercase domains a record is
-- indexed under (its recipients' addresses and original addresses, its submitter's), in
-- the record's own row, so that a write of the record writes them in the same statement.
-- NULL: not indexed yet (a row of an older build); the store fills them when it opens, and
-- a view reads such rows as candidates meanwhile (the caller's test decides).
ALTER TABLE queue ADD COLUMN domains text[];
CREATE INDEX queue_by_domain ON queue USING gin (domains);
CREATE INDEX queue_unindexed ON queue (queue, id) WHERE domains IS NULL;
