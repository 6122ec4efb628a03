-- A message append in one round trip (storage/pg/append.rs): the folder row locked, the
-- message inserted with uid = UIDNEXT and the folder's next modseq, the queue record the
-- append consumes locked and then updated or deleted in place (never deleted and inserted
-- again, so that a transaction waiting on the row, such as a lease renewal or a console
-- move, finds it still there), the folder's counters written and the other nodes notified,
-- and the owner's quota usage charged (returned with the limits, which the caller checks).
--
-- The queue record is bincode, which only Rust reads: the caller passes the bytes it
-- expects stored (p_expected) and the record with its recipient marked delivered
-- (p_record), or NULL there when no recipient is left. When the stored bytes are the
-- expected ones the function writes the record (o_consumed 'updated' or 'deleted');
-- otherwise it leaves the row locked and returns it (o_consumed 'stale'), and the caller
-- checks the recipient and updates or deletes the row itself in the same transaction.
-- Blob reference counts stay with the caller (o_blob is the record's body). It writes
-- nothing when the folder is missing, \Noselect or out of UIDs, or the queue record is gone
-- (o_status says which); the caller aborts its transaction on any refusal, so a partial
-- append is never committed. Messages with keywords take the statement-by-statement path
-- (the folder's keyword list). The function's search_path is the schema's (FROM CURRENT:
-- the migration runs with it), whatever the caller's.
CREATE OR REPLACE FUNCTION ferry_append(
    p_folder bigint, p_system smallint, p_unseen bigint, p_deleted bigint, p_size bigint,
    p_internal bigint, p_save bigint, p_blob bytea,
    p_queue_id bigint, p_queue text, p_channel text, p_node text,
    p_expected bytea, p_record bytea)
RETURNS TABLE (
    o_status text, o_uid bigint, o_modseq bigint, o_account text, o_name text,
    o_consumed text, o_record bytea, o_blob bytea,
    o_storage_used bigint, o_messages_used bigint, o_storage_limit bigint,
    o_messages_limit bigint)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    f folders%ROWTYPE;
BEGIN
    SELECT * INTO f FROM folders WHERE id = p_folder FOR UPDATE;
    IF NOT FOUND THEN
        o_status := 'nofolder';
        RETURN NEXT;
        RETURN;
    END IF;
    o_account := f.account;
    o_name := f.name;
    IF f.noselect THEN
        o_status := 'noselect';
        RETURN NEXT;
        RETURN;
    END IF;
    IF f.uidnext >= 4294967295 THEN
        o_status := 'uids';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_queue_id IS NOT NULL THEN
        SELECT record, blob INTO o_record, o_blob FROM queue
            WHERE id = p_queue_id AND queue = p_queue FOR UPDATE;
        IF NOT FOUND THEN
            o_status := 'noqueue';
            RETURN NEXT;
            RETURN;
        END IF;
        IF p_expected IS NULL OR o_record IS DISTINCT FROM p_expected THEN
            o_consumed := 'stale';
        ELSIF p_record IS NULL THEN
            DELETE FROM queue WHERE id = p_queue_id;
            o_consumed := 'deleted';
            o_record := NULL;
        ELSE
            UPDATE queue SET record = p_record WHERE id = p_queue_id;
            o_consumed := 'updated';
            o_record := NULL;
        END IF;
    END IF;
    o_uid := f.uidnext;
    o_modseq := f.highest_modseq + 1;
    INSERT INTO messages (folder, uid, modseq, system_flags, keywords, size, internal_date,
                          save_date, blob)
        VALUES (p_folder, o_uid, o_modseq, p_system, '{}', p_size, p_internal, p_save, p_blob);
    UPDATE folders SET uidnext = o_uid + 1, highest_modseq = o_modseq,
            exists_count = LEAST(exists_count + 1, 4294967295),
            unseen = LEAST(unseen + p_unseen, 4294967295),
            deleted = LEAST(deleted + p_deleted, 4294967295),
            size = size + p_size
        WHERE id = p_folder;
    PERFORM pg_notify(p_channel, p_node || ' ' || p_folder || ' ' || o_modseq);
    IF f.account <> '' THEN
        INSERT INTO quota AS q (account, storage_used, messages_used)
            VALUES (f.account, GREATEST(p_size, 0), 1)
            ON CONFLICT (account) DO UPDATE
            SET storage_used = GREATEST(q.storage_used + p_size, 0),
                messages_used = GREATEST(q.messages_used + 1, 0)
            RETURNING storage_used, messages_used, storage_limit, messages_limit
            INTO o_storage_used, o_messages_used, o_storage_limit, o_messages_limit;
    END IF;
    o_status := 'ok';
    RETURN NEXT;
END
$$;
