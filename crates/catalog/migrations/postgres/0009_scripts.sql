-- Scripts (seed 003): a project's saved, parameterised preload item; running one makes a
-- generated asset of the project.

CREATE TABLE project_scripts (
    id          TEXT PRIMARY KEY,                -- a UUID
    tenant_id   TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    project_id  TEXT NOT NULL REFERENCES projects(id),
    name        TEXT NOT NULL,
    template    TEXT NOT NULL,                   -- the preload item with {{name}} placeholders, JSON
    inputs      TEXT NOT NULL,                   -- the parameters it takes, a JSON list
    created_at  BIGINT NOT NULL
);
CREATE INDEX project_scripts_by_project ON project_scripts (project_id, created_at);

-- A generated asset names the preload item making it until that item ends; its outcome is then
-- kept on the asset itself, so expiring the preload loses nothing.
ALTER TABLE project_assets ADD COLUMN create_parameters TEXT;    -- JSON object
ALTER TABLE project_assets ADD COLUMN script_id TEXT;            -- the script it ran, kept if deleted
ALTER TABLE project_assets ADD COLUMN preload_id TEXT;
ALTER TABLE project_assets ADD COLUMN preload_position BIGINT;
ALTER TABLE project_assets ADD COLUMN generation_error TEXT;     -- why it holds no file
CREATE INDEX project_assets_by_preload ON project_assets (preload_id, preload_position)
    WHERE preload_id IS NOT NULL;
