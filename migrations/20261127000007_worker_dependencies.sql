-- The circuit breakers of each worker process (Kubernetes API, helm), reported every few
-- seconds: the API's health shows how many workers currently see a dependency as down.
CREATE TABLE worker_dependencies (
    worker_id   uuid        NOT NULL,
    dependency  text        NOT NULL,
    open        boolean     NOT NULL,
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, dependency)
);
