-- The second budget: what a tenant keeps outside the drive quota (files in `temp`, and cache
-- entries not persisted into the drive) is bounded too. It is summed when checked, under the
-- tenant's lock, so there is no counter to drift; these indexes keep the sums to the tenant's rows.

ALTER TABLE tenants ADD COLUMN temp_quota BIGINT;  -- NULL: the tenant's drive quota applies

CREATE INDEX files_temporary_by_tenant ON files (tenant_id) WHERE temporary = TRUE;
CREATE INDEX cache_entries_held ON cache_entries (tenant_id)
    WHERE blob_hash IS NOT NULL AND persisted_file_id IS NULL;
