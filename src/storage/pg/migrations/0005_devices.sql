-- Remembered devices (issue 14): a webmail login with two-factor login may leave a
-- long-lived token in the browser; only the SHA-256 of its secret half is kept. The rows go
-- with their account: deleting the account row deletes them in the same transaction.
CREATE TABLE remembered_devices (
    account   text NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    id        text NOT NULL,            -- 16 hex digits, the token's public half
    digest    bytea NOT NULL,           -- SHA-256 of the token's secret half
    label     text NOT NULL,            -- from the browser's User-Agent
    created   bigint NOT NULL,
    last_used bigint NOT NULL,
    expires   bigint NOT NULL,
    PRIMARY KEY (account, id)
);
