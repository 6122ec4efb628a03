-- Account flags (issue 13): a disabled account is refused at every login and still
-- receives mail. Existing accounts stay enabled.
ALTER TABLE accounts ADD COLUMN disabled boolean NOT NULL DEFAULT false;
