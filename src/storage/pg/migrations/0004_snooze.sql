-- Snoozed messages (issue 14, webmail's Snooze): see storage::snooze. No reference to
-- accounts, as on the embedded backend: the waker drops a record whose account or message
-- is gone. The wake index finds the next due record.
CREATE TABLE snooze (
    id bigint PRIMARY KEY,
    account text NOT NULL,
    wake bigint NOT NULL,
    folder text NOT NULL,
    from_uid bigint NOT NULL,
    snoozed_uid bigint,
    email_id text NOT NULL
);
CREATE INDEX snooze_wake ON snooze (wake, id);
CREATE INDEX snooze_account ON snooze (account, wake, id);
