-- User management: one-time links (invitations while registration is closed, password resets
-- an operator forces) and when each account last signed in.
--
-- A link's token is shown once to the operator who made it; only its SHA-256 is kept here.
CREATE TABLE one_time_tokens (
    token_hash  bytea       PRIMARY KEY,
    purpose     text        NOT NULL CHECK (purpose IN ('invite', 'password_reset')),
    -- invite: the address that may register with it, and the new account's role
    email       text,
    role        user_role,
    -- password_reset: whose password it sets
    user_id     uuid        REFERENCES users (id) ON DELETE CASCADE,
    created_by  uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT one_time_tokens_shape CHECK (
        (purpose = 'invite' AND email IS NOT NULL AND role IS NOT NULL AND user_id IS NULL)
        OR (purpose = 'password_reset' AND user_id IS NOT NULL AND email IS NULL)
    )
);
CREATE INDEX one_time_tokens_open ON one_time_tokens (purpose, email, user_id) WHERE used_at IS NULL;
-- Tenants never read links (the API reads them as the table owner).
ALTER TABLE one_time_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE users ADD COLUMN last_login_at timestamptz;
