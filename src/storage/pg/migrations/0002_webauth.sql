-- The web front's second factors and API keys (issue 13). Both go with their account:
-- deleting the account row deletes them in the same transaction.

-- An account's TOTP (RFC 6238) state, pending until confirmed with a code.
CREATE TABLE totp (
    account   text PRIMARY KEY REFERENCES accounts (address) ON DELETE CASCADE,
    secret    bytea NOT NULL,
    enabled   boolean NOT NULL,
    recovery  bytea[] NOT NULL,         -- SHA-256 of each recovery code not used yet
    last_step bigint NOT NULL           -- the last time step accepted (replay refusal)
);

-- API keys `fm_<id>_<secret>`: only the SHA-256 of the secret is kept.
CREATE TABLE api_keys (
    id        text PRIMARY KEY,         -- 8 hex digits
    name      text NOT NULL,
    owner     text NOT NULL REFERENCES accounts (address) ON DELETE CASCADE,
    scope     text NOT NULL,            -- read-only | accounts | queues | all
    digest    bytea NOT NULL,
    created   bigint NOT NULL,
    last_used bigint
);
CREATE INDEX api_keys_owner ON api_keys (owner);
