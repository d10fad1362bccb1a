-- A store whose release is being upgraded (upgrade-store). Added alone: a new enum value can
-- be used only after the transaction that added it committed, and the next migration uses it.
ALTER TYPE store_status ADD VALUE IF NOT EXISTS 'upgrading' AFTER 'ready';
