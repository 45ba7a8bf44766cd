-- Keys people can manage: a name, when each was last used, revocation (kept, not deleted, so a
-- revoked key is told apart from one that never existed); and secrets that rotate with an overlap.

ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE api_keys ADD COLUMN revoked_at BIGINT;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE retired_secrets (
    name          TEXT NOT NULL,
    value         BYTEA NOT NULL,
    retired_until BIGINT NOT NULL
);
CREATE INDEX retired_secrets_by_name ON retired_secrets (name, retired_until);
