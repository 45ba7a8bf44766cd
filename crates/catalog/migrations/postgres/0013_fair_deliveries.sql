-- Deliveries are claimed fairly: a tenant's claims in flight are counted on every claim, from
-- its pending deliveries only.
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (tenant_id, claim_until)
    WHERE status = 'pending';
