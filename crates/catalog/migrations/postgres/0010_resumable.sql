-- Resumable (tus) uploads: a pending file whose bytes arrive over many requests. The offset is
-- what the blob store holds durably; bytes past it are not counted and are written over.

CREATE TABLE resumable_uploads (
    file_id       TEXT PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    upload_offset BIGINT NOT NULL DEFAULT 0,
    metadata      TEXT NOT NULL                  -- the client's Upload-Metadata, as it was sent
);
