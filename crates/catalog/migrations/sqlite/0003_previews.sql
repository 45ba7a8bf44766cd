-- Previews derived from a blob (thumbnails, waveform, poster): blobs of their own, each holding one
-- reference, dropped with the blob they were made from.
CREATE TABLE previews (
    source_hash  TEXT NOT NULL,
    name         TEXT NOT NULL,
    preview_hash TEXT NOT NULL REFERENCES blobs(hash),
    content_type TEXT NOT NULL,
    PRIMARY KEY (source_hash, name)
);
CREATE INDEX previews_by_blob ON previews (preview_hash);
