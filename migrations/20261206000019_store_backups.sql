-- Store backups (backup-<engine> v1): one row per backup, `running` until its run has stored
-- every part and the manifest (then `complete`: listed as restorable), `failed` when it
-- could not (its objects deleted). Rows outlive their store: restoring a deleted store is
-- what backups are for. The objects live in the bucket under
-- <prefix>/stores/<store_id>/<backup id>/.
CREATE TABLE store_backups (
    id uuid PRIMARY KEY,
    store_id text NOT NULL,
    owner_id uuid NOT NULL,
    store_name text NOT NULL,
    engine store_engine NOT NULL,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete', 'failed')),
    trigger text NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
    run_id uuid,
    requested_by uuid,
    manifest jsonb,
    size_bytes bigint,
    stored_bytes bigint,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX store_backups_by_store ON store_backups (store_id, created_at DESC);
CREATE INDEX store_backups_by_owner ON store_backups (owner_id, created_at DESC);

GRANT SELECT, INSERT ON store_backups TO storeflow_tenant;
ALTER TABLE store_backups ENABLE ROW LEVEL SECURITY;
CREATE POLICY store_backups_tenant_scope ON store_backups TO storeflow_tenant
    USING (owner_id = nullif(current_setting('storeflow.user_id', true), '')::uuid)
    WITH CHECK (owner_id = nullif(current_setting('storeflow.user_id', true), '')::uuid);

-- A store's backup schedule (5-field cron, UTC; NULL: none) and the retention of its
-- scheduled backups: the newest of each of the last `keep_daily` days and of each of the
-- last `keep_weekly` ISO weeks. The scheduled-backups schedule starts the backups whose
-- `backup_next_at` has passed.
ALTER TABLE stores
    ADD COLUMN backup_schedule text,
    ADD COLUMN backup_keep_daily integer NOT NULL DEFAULT 7
        CHECK (backup_keep_daily BETWEEN 0 AND 366),
    ADD COLUMN backup_keep_weekly integer NOT NULL DEFAULT 4
        CHECK (backup_keep_weekly BETWEEN 0 AND 520),
    ADD COLUMN backup_next_at timestamptz;
CREATE INDEX stores_backup_due ON stores (backup_next_at) WHERE backup_next_at IS NOT NULL;
