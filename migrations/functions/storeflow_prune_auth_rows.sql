-- The API's own housekeeping of its authentication tables, as one function the cleanup
-- schedule (`prune-history`) calls instead of deleting from them itself: which rows are spent
-- is the API's rule. Limiter windows and lockouts go a day after they stopped counting;
-- invitation and reset links a month after they were used or expired. Installed (and replaced)
-- by `storeflow_engine::migrate` on every migrate, like every file of migrations/functions/.
CREATE OR REPLACE FUNCTION storeflow_prune_auth_rows(
    OUT rate_limit_windows bigint, OUT login_lockouts bigint, OUT one_time_links bigint
) LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rate_limit_windows WHERE window_start < now() - interval '1 day';
    GET DIAGNOSTICS rate_limit_windows = ROW_COUNT;
    DELETE FROM login_lockouts WHERE last_failure_at < now() - interval '1 day'
        AND (locked_until IS NULL OR locked_until < now());
    GET DIAGNOSTICS login_lockouts = ROW_COUNT;
    DELETE FROM one_time_tokens WHERE coalesce(used_at, expires_at) < now() - interval '30 days';
    GET DIAGNOSTICS one_time_links = ROW_COUNT;
END
$$;
