-- Projects (seed 003, the Video Jungle surface): a grouping over the drive; assets are drive files.

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,                -- a UUID
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    description TEXT,
    data        TEXT,                            -- any JSON value, as JSON text
    folder      TEXT NOT NULL,                   -- where its uploads land
    created_at  INTEGER NOT NULL
);
CREATE INDEX projects_by_tenant ON projects (tenant_id, created_at);

CREATE TABLE project_assets (
    id                TEXT PRIMARY KEY,          -- a UUID
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    project_id        TEXT NOT NULL REFERENCES projects(id),
    keyname           TEXT NOT NULL UNIQUE,      -- a random UUID: a bearer key to the asset
    name              TEXT NOT NULL,
    asset_type        TEXT NOT NULL,
    description       TEXT,
    -- The asset is its file: deleting the file from the drive deletes the asset.
    file_id           TEXT REFERENCES files(id) ON DELETE CASCADE,
    created_at        INTEGER NOT NULL,
    upload_expires_at INTEGER NOT NULL
);
CREATE INDEX project_assets_by_project ON project_assets (project_id, created_at, id);
CREATE INDEX project_assets_by_file ON project_assets (file_id);
CREATE INDEX project_assets_waiting ON project_assets (upload_expires_at) WHERE file_id IS NULL;
