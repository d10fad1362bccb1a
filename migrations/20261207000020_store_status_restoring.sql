-- A store whose data is being replaced by one of its backups (restore-in-place-<engine>).
-- Added alone: a new enum value can be used only after the transaction that added it
-- committed, and the next migration uses it.
ALTER TYPE store_status ADD VALUE IF NOT EXISTS 'restoring' AFTER 'upgrading';
