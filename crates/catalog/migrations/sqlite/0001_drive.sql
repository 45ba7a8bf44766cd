-- The drive on SQLite: tenants, keys, shared secrets, content-addressed blobs, folders and files.
-- Times are milliseconds since the Unix epoch.

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    quota           INTEGER,                      -- NULL: the configured default applies
    storage_blocked INTEGER NOT NULL DEFAULT 0,
    blocked_at      INTEGER,
    credits         INTEGER NOT NULL DEFAULT 0,
    used_bytes      INTEGER NOT NULL DEFAULT 0,   -- uploaded, non-temporary files
    pending_bytes   INTEGER NOT NULL DEFAULT 0,   -- pending, non-temporary uploads
    created_at      INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    key_hash   TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- A blob may be reclaimed once nothing references it and no ingest holds a lease on it.
CREATE TABLE blobs (
    hash        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    refcount    INTEGER NOT NULL DEFAULT 0,
    leases      INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER NOT NULL,
    -- Set while one reclaimer removes the bytes; only that reclaimer may forget the row.
    reclaim_token   TEXT,
    reclaim_started INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX blobs_unreferenced ON blobs (lease_until) WHERE refcount = 0;

CREATE TABLE folders (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    path       TEXT NOT NULL,
    parent     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, path)
);
CREATE INDEX folders_by_parent ON folders (tenant_id, parent, path);

CREATE TABLE files (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    folder             TEXT NOT NULL,
    name               TEXT NOT NULL,
    content_type       TEXT NOT NULL,
    media_type         TEXT NOT NULL,
    size               INTEGER NOT NULL,
    status             TEXT NOT NULL,
    temporary          INTEGER NOT NULL,
    blob_hash          TEXT REFERENCES blobs(hash),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    uploaded_at        INTEGER,
    temporary_since    INTEGER,
    upload_expires_at  INTEGER,
    upload_claim_until INTEGER,
    UNIQUE (tenant_id, folder, name)
);
CREATE INDEX files_by_date ON files (tenant_id, folder, created_at, name);
CREATE INDEX files_by_type_name ON files (tenant_id, folder, media_type, name);
CREATE INDEX files_by_type_date ON files (tenant_id, folder, media_type, created_at, name);
CREATE INDEX files_pending ON files (upload_expires_at) WHERE status = 'pending';
CREATE INDEX files_temporary ON files (temporary_since) WHERE temporary = 1;
CREATE INDEX files_by_blob ON files (blob_hash);
