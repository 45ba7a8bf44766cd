-- Render outputs (seed 004): a temporary tier (a cache entry per output) and hosting in the drive.

CREATE TABLE renders (
    id           TEXT PRIMARY KEY,               -- a UUID
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    host         BOOLEAN NOT NULL,
    callback_url TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX renders_by_age ON renders (created_at);

CREATE TABLE render_outputs (
    id             TEXT PRIMARY KEY,             -- a UUID, the Serve API's asset id
    render_id      TEXT NOT NULL REFERENCES renders(id),
    position       INTEGER NOT NULL,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    kind           TEXT NOT NULL,                -- video | thumbnail | poster | transfer
    src            TEXT,                         -- downloaded from here; NULL: uploaded
    stem           TEXT,                         -- of the hosted file's name; NULL: the render id
    -- waiting | fetching | importing | temporary | ready | failed | deleted
    status         TEXT NOT NULL,
    claim_until    INTEGER,
    error          TEXT,
    cache_entry_id TEXT REFERENCES cache_entries(id),
    -- Deleting the hosted file from the drive clears it: a ready output without one is deleted.
    hosted_file_id TEXT REFERENCES files(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (render_id, position)
);
CREATE INDEX render_outputs_due ON render_outputs (created_at) WHERE status IN ('fetching', 'importing');
CREATE INDEX render_outputs_by_file ON render_outputs (hosted_file_id);
