-- A blob whose probing keeps killing the node probing it must not be retried for ever.
ALTER TABLE blobs ADD COLUMN probe_attempts INTEGER NOT NULL DEFAULT 0;
