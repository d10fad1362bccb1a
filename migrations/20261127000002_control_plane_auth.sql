-- Control plane: users, login protection and the audit log.

CREATE TYPE user_role AS ENUM ('admin', 'tenant');

CREATE TABLE users (
    id             uuid        PRIMARY KEY,
    email          text        NOT NULL,
    username       text        NOT NULL,
    password_hash  text        NOT NULL,
    role           user_role   NOT NULL,
    is_active      boolean     NOT NULL DEFAULT true,
    -- Bumped on password change: tokens carry it, so older tokens stop working.
    token_version  integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username)
);

-- Fixed-window counters shared by every replica (login per IP+e-mail, registration per IP).
CREATE TABLE rate_limit_windows (
    key          text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL
);

-- Failed logins per e-mail; a run of failures locks the account for a while.
CREATE TABLE login_lockouts (
    email           text        PRIMARY KEY,
    failures        integer     NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz
);

CREATE TABLE audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    -- security, store, run, schedule ...
    category    text        NOT NULL,
    action      text        NOT NULL,
    actor_id    uuid,
    actor_email text,
    ip_address  text,
    subject     text,
    request_id  text,
    data        jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_subject ON audit_events (subject, at DESC) WHERE subject IS NOT NULL;
