-- What probing found out about each blob: content-derived, so once per blob, shared by its files.
ALTER TABLE blobs ADD COLUMN probe_status TEXT NOT NULL DEFAULT 'pending'; -- pending | done | failed
ALTER TABLE blobs ADD COLUMN probe_claim_until BIGINT;
ALTER TABLE blobs ADD COLUMN probe_error TEXT;
ALTER TABLE blobs ADD COLUMN metadata TEXT; -- JSON
CREATE INDEX blobs_probe_pending ON blobs (probe_claim_until) WHERE probe_status = 'pending';
