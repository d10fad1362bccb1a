-- Stores, scoped per tenant by row-level security.
--
-- Tenant-facing queries run as the role `storeflow_tenant` (SET LOCAL ROLE inside their
-- transaction) with `storeflow.user_id` set; the policy then shows a tenant only their own
-- stores, even if a query forgets its owner filter. Admin views set `storeflow.scope = all`.
-- The table owner (workers, migrations) is not subject to the policy.

CREATE TYPE store_engine AS ENUM ('woocommerce', 'medusa');
CREATE TYPE store_status AS ENUM ('requested', 'provisioning', 'ready', 'failed', 'deleting', 'deleted');

CREATE TABLE stores (
    id               text         PRIMARY KEY CHECK (id ~ '^store-[a-f0-9]{8}$'),
    owner_id         uuid         NOT NULL REFERENCES users (id),
    name             text         NOT NULL,
    engine           store_engine NOT NULL,
    theme            text         CHECK (theme IN ('storefront', 'astra')),
    status           store_status NOT NULL DEFAULT 'requested',
    namespace        text         NOT NULL,
    storefront_url   text,
    admin_url        text,
    -- AES-256-GCM sealed JSON of the store's admin credentials (nonce || ciphertext).
    credentials      bytea,
    failure_reason   text,
    current_run_id   uuid,
    retry_count      integer      NOT NULL DEFAULT 0,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now(),
    ready_at         timestamptz,
    deleted_at       timestamptz
);
-- A name is taken only while a store of that name is not deleted.
CREATE UNIQUE INDEX stores_live_name ON stores (owner_id, name) WHERE status <> 'deleted';
CREATE INDEX stores_owner_created ON stores (owner_id, created_at DESC);
CREATE INDEX stores_created ON stores (created_at DESC);

-- Roles are cluster-wide: databases migrating side by side may race to create or grant it.
DO $$
BEGIN
    BEGIN
        CREATE ROLE storeflow_tenant NOLOGIN NOINHERIT;
    EXCEPTION
        WHEN duplicate_object OR unique_violation THEN
            NULL;
        WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'storeflow needs the role storeflow_tenant and this database user may not create roles'
                USING HINT = format('As an administrator run once: CREATE ROLE storeflow_tenant NOLOGIN NOINHERIT; GRANT storeflow_tenant TO %I;', current_user);
    END;
    BEGIN
        EXECUTE format('GRANT storeflow_tenant TO %I', current_user);
    EXCEPTION WHEN unique_violation OR internal_error THEN
        NULL; -- granted concurrently by another migration
    END;
END
$$;
GRANT SELECT, INSERT, UPDATE ON stores TO storeflow_tenant;
GRANT SELECT ON users TO storeflow_tenant;

ALTER TABLE stores ENABLE ROW LEVEL SECURITY;
CREATE POLICY stores_tenant_scope ON stores
    USING (current_setting('storeflow.scope', true) = 'all'
           OR owner_id::text = current_setting('storeflow.user_id', true))
    WITH CHECK (current_setting('storeflow.scope', true) = 'all'
                OR owner_id::text = current_setting('storeflow.user_id', true));
