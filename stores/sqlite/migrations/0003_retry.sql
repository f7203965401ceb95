-- A read that failed for a reason that may pass (the provider, not the file) is tried
-- again: how many syncs in a row failed it, and from when it is due (ms since the epoch).
-- NULL for files read fine or failed for good.
ALTER TABLE files ADD COLUMN retry_failures INTEGER;
ALTER TABLE files ADD COLUMN retry_at INTEGER;
CREATE INDEX files_retry_due ON files (source_id, retry_at) WHERE retry_at IS NOT NULL;
