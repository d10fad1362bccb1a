-- The global request limit's counts, shared by API replicas (server/src/api/request_limit.rs).
-- Each replica writes its own count per client network and fixed window; the sum over
-- replicas is the client's count. UNLOGGED: losing them in a crash only forgives a window.
CREATE UNLOGGED TABLE api_request_windows (
    client       text        NOT NULL,
    window_start timestamptz NOT NULL,
    replica      uuid        NOT NULL,
    hits         integer     NOT NULL CHECK (hits >= 0),
    PRIMARY KEY (client, window_start, replica)
);

CREATE INDEX api_request_windows_by_window ON api_request_windows (window_start);
