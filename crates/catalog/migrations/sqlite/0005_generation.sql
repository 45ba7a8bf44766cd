-- Generated assets (seed 000): the temporary cache, preload jobs and the credit ledger.

-- One row per tenant and source request. The row outlives its bytes: once purged (blob_hash
-- NULL) the stored source still allows a regeneration. Each live entry holds one blob reference.
CREATE TABLE cache_entries (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    fingerprint       TEXT NOT NULL,
    asset_type        TEXT NOT NULL,
    model             TEXT NOT NULL,
    source            TEXT NOT NULL,                 -- canonical source request, JSON
    blob_hash         TEXT REFERENCES blobs(hash),
    content_type      TEXT NOT NULL,
    extension         TEXT NOT NULL,
    size              INTEGER NOT NULL,
    width             INTEGER,
    height            INTEGER,
    duration_ms       INTEGER,
    generated_at      INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    -- The backreference: the drive file this asset was persisted as. Deleting the file clears it.
    persisted_file_id TEXT REFERENCES files(id) ON DELETE SET NULL,
    UNIQUE (tenant_id, fingerprint)
);
CREATE INDEX cache_entries_expiring ON cache_entries (expires_at) WHERE blob_hash IS NOT NULL;
CREATE INDEX cache_entries_by_file ON cache_entries (persisted_file_id);

CREATE TABLE preloads (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL
);
-- NULL keys are distinct on both engines.
CREATE UNIQUE INDEX preloads_idempotency ON preloads (tenant_id, idempotency_key);
CREATE INDEX preloads_by_age ON preloads (created_at);

CREATE TABLE preload_items (
    preload_id    TEXT NOT NULL REFERENCES preloads(id),
    position      INTEGER NOT NULL,
    tenant_id     TEXT NOT NULL,
    item_id       TEXT,
    asset_type    TEXT NOT NULL,
    model         TEXT NOT NULL,
    source        TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    save_to_media BOOLEAN NOT NULL,
    status        TEXT NOT NULL,                     -- queued | processing | ready | failed
    claim_until   INTEGER,
    queued_at     INTEGER NOT NULL,
    error         TEXT,
    url_path      TEXT,
    persistent    BOOLEAN,
    expires_at    INTEGER,
    width         INTEGER,
    height        INTEGER,
    size          INTEGER,
    duration_ms   INTEGER,
    warning       TEXT,
    PRIMARY KEY (preload_id, position)
);
CREATE INDEX preload_items_open ON preload_items (queued_at) WHERE status IN ('queued', 'processing');
-- Items of one source queued or in progress: only the first is made, the others wait for the cache.
CREATE INDEX preload_items_by_source ON preload_items (tenant_id, fingerprint)
    WHERE status IN ('queued', 'processing');

-- Append-only: every movement of a tenant's credits, with the balance after it.
CREATE TABLE credit_ledger (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    amount     INTEGER NOT NULL,
    balance    INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    model      TEXT,
    preload_id TEXT,
    position   INTEGER,
    created_at INTEGER NOT NULL
);
-- A preload item is charged (or refunded) at most once, even when a node dies and it is retried.
CREATE UNIQUE INDEX credit_ledger_once ON credit_ledger (preload_id, position, reason);
CREATE INDEX credit_ledger_by_tenant ON credit_ledger (tenant_id, id);
