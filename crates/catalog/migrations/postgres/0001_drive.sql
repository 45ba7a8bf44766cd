-- The drive on PostgreSQL: the same tables as on SQLite. Times are milliseconds since the Unix
-- epoch; paths and names use the "C" collation so they sort bytewise, as on SQLite.

CREATE TABLE tenants (
    id              TEXT COLLATE "C" PRIMARY KEY,
    quota           BIGINT,                       -- NULL: the configured default applies
    storage_blocked BOOLEAN NOT NULL DEFAULT FALSE,
    blocked_at      BIGINT,
    credits         BIGINT NOT NULL DEFAULT 0,
    used_bytes      BIGINT NOT NULL DEFAULT 0,    -- uploaded, non-temporary files
    pending_bytes   BIGINT NOT NULL DEFAULT 0,    -- pending, non-temporary uploads
    created_at      BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    key_hash   TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- A blob may be reclaimed once nothing references it and no ingest holds a lease on it.
CREATE TABLE blobs (
    hash            TEXT PRIMARY KEY,
    size            BIGINT NOT NULL,
    refcount        BIGINT NOT NULL DEFAULT 0,
    leases          BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT NOT NULL,
    -- Set while one reclaimer removes the bytes; only that reclaimer may forget the row.
    reclaim_token   TEXT,
    reclaim_started BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX blobs_unreferenced ON blobs (lease_until) WHERE refcount = 0;

CREATE TABLE folders (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    path       TEXT COLLATE "C" NOT NULL,
    parent     TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, path)
);
CREATE INDEX folders_by_parent ON folders (tenant_id, parent, path);

CREATE TABLE files (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    folder             TEXT COLLATE "C" NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,
    content_type       TEXT NOT NULL,
    media_type         TEXT NOT NULL,
    size               BIGINT NOT NULL,
    status             TEXT NOT NULL,
    temporary          BOOLEAN NOT NULL,
    blob_hash          TEXT REFERENCES blobs(hash),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    uploaded_at        BIGINT,
    temporary_since    BIGINT,
    upload_expires_at  BIGINT,
    upload_claim_until BIGINT,
    UNIQUE (tenant_id, folder, name)
);
CREATE INDEX files_by_date ON files (tenant_id, folder, created_at, name);
CREATE INDEX files_by_type_name ON files (tenant_id, folder, media_type, name);
CREATE INDEX files_by_type_date ON files (tenant_id, folder, media_type, created_at, name);
CREATE INDEX files_pending ON files (upload_expires_at) WHERE status = 'pending';
CREATE INDEX files_temporary ON files (temporary_since) WHERE temporary;
CREATE INDEX files_by_blob ON files (blob_hash);
