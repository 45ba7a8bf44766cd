-- Webhooks: endpoints per tenant, a durable outbox of events, one delivery per event and target,
-- and the log of every attempt.

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    url             TEXT NOT NULL,
    -- Standard Webhooks secret, `whsec_` and base64 of the key.
    secret          TEXT NOT NULL,
    -- JSON array of event types; empty means every type.
    event_types     TEXT NOT NULL,
    description     TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    -- Failed attempts in a row; the endpoint is disabled when it reaches the configured limit.
    failure_streak  BIGINT NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, created_at);

-- The secret per-request callbacks (preloads, renders) are signed with.
CREATE TABLE webhook_tenant_secrets (
    tenant_id TEXT COLLATE "C" PRIMARY KEY REFERENCES tenants(id),
    secret    TEXT NOT NULL
);

CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,             -- msg_…, the webhook-id receivers deduplicate by
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,                -- the exact body sent
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES webhook_events(id),
    tenant_id       TEXT COLLATE "C" NOT NULL,
    -- endpoint: sent to `endpoint_id` (at its current URL); callback: to `url`, with the tenant's
    -- callback secret.
    kind            TEXT NOT NULL,
    endpoint_id     TEXT REFERENCES webhook_endpoints(id) ON DELETE SET NULL,
    url             TEXT NOT NULL,
    status          TEXT NOT NULL,           -- pending | delivered | failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claim_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_by_tenant ON webhook_deliveries (tenant_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- A per-request callback URL of a preload, told of each item and of the end.
ALTER TABLE preloads ADD COLUMN callback_url TEXT;
