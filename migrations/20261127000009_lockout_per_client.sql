-- A lock keyed by e-mail alone let anyone who knows an address lock its owner out for the
-- lock's duration (a defect of the old platform). Failures now count, and locks hold, per
-- (e-mail, client address): guessing from one address locks that address out of the account,
-- not the owner signing in from elsewhere. Guessing from many addresses is bounded by the
-- per-address login rate limits.
ALTER TABLE login_lockouts ADD COLUMN client_ip text NOT NULL DEFAULT '';
ALTER TABLE login_lockouts DROP CONSTRAINT login_lockouts_pkey;
ALTER TABLE login_lockouts ADD PRIMARY KEY (email, client_ip);
