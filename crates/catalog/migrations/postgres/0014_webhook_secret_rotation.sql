-- A rotated signing secret still signs for an overlap, beside the new one (Standard Webhooks
-- sends several signatures in `webhook-signature`), so receivers can switch without a gap.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_until BIGINT;
ALTER TABLE webhook_tenant_secrets ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_tenant_secrets ADD COLUMN previous_secret_until BIGINT;
