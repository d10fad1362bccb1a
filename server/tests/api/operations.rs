//! Admin routes over runs, workflows and schedules; health, metrics, audit; OpenAPI.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use serde_json::json;
use storeflow_engine::{NewRun, ScheduleSpec};

use crate::*;

#[tokio::test]
async fn run_routes_are_for_admins_and_redact_secrets() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (_, tenant) = api.register("t@example.com", "tenant").await;
    let run = api
        .engine
        .enqueue_now(NewRun::new(
            "selftest",
            json!({ "steps": 2, "admin_password": "hunter2-secret" }),
        ))
        .await;
    // selftest refuses unknown input fields at run time, but the run is stored as given.
    let run = run.expect("enqueued");

    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(tenant.as_str()), StatusCode::FORBIDDEN),
    ] {
        let reply = api.call(Method::GET, "/api/v1/runs", token, None).await;
        assert_eq!(reply.status, status);
        assert_envelope(&reply);
        let reply = api
            .call(
                Method::GET,
                &format!("/api/v1/runs/{}", run.run_id),
                token,
                None,
            )
            .await;
        assert_eq!(reply.status, status);
    }

    let list = api
        .call(
            Method::GET,
            "/api/v1/runs?workflow=selftest&status=queued",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(list.body["runs"][0]["id"], run.run_id.to_string());
    // The total counts every match, not just the page.
    for _ in 0..2 {
        api.engine
            .enqueue_now(storeflow_engine::NewRun::new(
                "selftest",
                json!({ "steps": 1, "delay_ms": 0 }),
            ))
            .await
            .expect("enqueued");
    }
    let page = api
        .call(
            Method::GET,
            "/api/v1/runs?workflow=selftest&limit=2&offset=2",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert_eq!(page.body["total"], 3, "{page:?}");
    assert_eq!(page.body["runs"].as_array().map(Vec::len), Some(1));
    let bad_status = api
        .call(Method::GET, "/api/v1/runs?status=done", Some(&admin), None)
        .await;
    assert_eq!(bad_status.status, StatusCode::BAD_REQUEST);

    let one = api
        .call(
            Method::GET,
            &format!("/api/v1/runs/{}", run.run_id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["run"]["input"]["admin_password"], "[redacted]");
    assert!(
        !one.text.contains("hunter2-secret"),
        "the secret never leaves the server"
    );
    assert_eq!(one.body["run"]["steps"].as_array().map(Vec::len), Some(2));

    let bad_id = api
        .call(Method::GET, "/api/v1/runs/not-a-uuid", Some(&admin), None)
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    let unknown = api
        .call(
            Method::GET,
            "/api/v1/runs/00000000-0000-0000-0000-000000000000",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "RUN_NOT_FOUND");

    let retry = api
        .call(
            Method::POST,
            &format!("/api/v1/runs/{}/steps/1/retry", run.run_id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(retry.status, StatusCode::CONFLICT);
    assert_eq!(retry.code(), "INVALID_RUN_STATE");
    let cancel = api
        .call(
            Method::POST,
            &format!("/api/v1/runs/{}/cancel", run.run_id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(cancel.status, StatusCode::ACCEPTED);
    assert_eq!(cancel.body["status"], "cancelled");
    let again = api
        .call(
            Method::POST,
            &format!("/api/v1/runs/{}/cancel", run.run_id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let workflows = api
        .call(Method::GET, "/api/v1/workflows", Some(&admin), None)
        .await;
    assert_eq!(workflows.status, StatusCode::OK);
    let selftest = workflows.body["workflows"]
        .as_array()
        .expect("workflows")
        .iter()
        .find(|w| w["name"] == "selftest")
        .expect("selftest is listed");
    assert_eq!(selftest["latest"], true);
    assert_eq!(selftest["steps"][0]["name"], "step-1");
}

#[tokio::test]
async fn schedules_can_be_listed_toggled_and_run_now() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    api.engine
        .upsert_schedule(&ScheduleSpec {
            name: "nightly-check".into(),
            cron: "0 3 * * *".into(),
            workflow: "selftest".into(),
            input: json!({ "steps": 1 }),
            enabled: true,
        })
        .await
        .expect("schedule");
    let list = api
        .call(Method::GET, "/api/v1/schedules", Some(&admin), None)
        .await;
    assert_eq!(list.body["schedules"][0]["name"], "nightly-check");
    let off = api
        .call(
            Method::PATCH,
            "/api/v1/schedules/nightly-check",
            Some(&admin),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(off.body["schedule"]["enabled"], false);
    let bad = api
        .call(
            Method::PATCH,
            "/api/v1/schedules/nightly-check",
            Some(&admin),
            Some(json!({ "enabled": "no" })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let recron = api
        .call(
            Method::PATCH,
            "/api/v1/schedules/nightly-check",
            Some(&admin),
            Some(json!({ "cron": "30 4 * * 1", "enabled": true })),
        )
        .await;
    assert_eq!(recron.status, StatusCode::OK, "{recron:?}");
    assert_eq!(recron.body["schedule"]["cron"], "30 4 * * 1");
    assert_eq!(recron.body["schedule"]["enabled"], true);
    let stored = api.engine.list_schedules().await.expect("schedules");
    assert_eq!(stored[0].cron, "30 4 * * 1");
    let invalid_cron = api
        .call(
            Method::PATCH,
            "/api/v1/schedules/nightly-check",
            Some(&admin),
            Some(json!({ "cron": "every night" })),
        )
        .await;
    assert_eq!(invalid_cron.status, StatusCode::BAD_REQUEST);
    assert!(
        invalid_cron.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("every night")),
        "{invalid_cron:?}"
    );
    let empty = api
        .call(
            Method::PATCH,
            "/api/v1/schedules/nightly-check",
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let unchanged = api.engine.list_schedules().await.expect("schedules");
    assert_eq!(
        unchanged[0].cron, "30 4 * * 1",
        "a refused change loses nothing"
    );
    let missing = api
        .call(
            Method::PATCH,
            "/api/v1/schedules/nope",
            Some(&admin),
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "SCHEDULE_NOT_FOUND");
    let now = api
        .call(
            Method::POST,
            "/api/v1/schedules/nightly-check/run",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(now.status, StatusCode::ACCEPTED, "{now:?}");
    let run_id: uuid::Uuid = now.body["run"]["run_id"]
        .as_str()
        .expect("run id")
        .parse()
        .expect("uuid");
    let run = api.engine.get_run(run_id).await.expect("run exists");
    assert_eq!(
        run.summary.subject.as_deref(),
        Some("schedule:nightly-check")
    );
}

#[tokio::test]
async fn health_is_public_but_details_are_for_admins() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let (_, tenant) = api.register("t@example.com", "tenant").await;
    let public = api.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.body["status"], "healthy");
    assert!(public.body.get("checks").is_none());
    let as_tenant = api
        .call(Method::GET, "/api/v1/health", Some(&tenant), None)
        .await;
    assert!(as_tenant.body.get("checks").is_none());
    let detailed = api
        .call(Method::GET, "/api/v1/health", Some(&admin), None)
        .await;
    assert_eq!(detailed.body["checks"]["database"]["status"], "healthy");
    // This machine has no cluster: health says so instead of failing.
    let kubernetes = &detailed.body["checks"]["kubernetes"];
    assert!(
        kubernetes["status"] == "unavailable" || kubernetes["status"] == "healthy",
        "{kubernetes}"
    );
    assert!(kubernetes["message"].is_string());
    assert!(detailed.body["runs"]["runnable"].is_number());
    assert_eq!(
        api.call(Method::GET, "/api/v1/health/live", None, None)
            .await
            .body["status"],
        "alive"
    );
    assert_eq!(
        api.call(Method::GET, "/api/v1/health/ready", None, None)
            .await
            .body["ready"],
        true
    );

    let metrics = api
        .call(Method::GET, "/api/v1/metrics", Some(&admin), None)
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    assert_eq!(
        api.call(Method::GET, "/api/v1/metrics", Some(&tenant), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let json_metrics = api
        .call(Method::GET, "/api/v1/metrics/json", Some(&admin), None)
        .await;
    assert!(json_metrics.body["uptimeSeconds"].is_number());

    let audit = api
        .call(
            Method::GET,
            "/api/v1/audit?category=security",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(audit.body["total"], 2, "two registrations");
    assert_eq!(audit.body["events"][0]["action"], "registration");
    // The workers' circuit breakers: one worker sees the Kubernetes API as down.
    sqlx::query(
        "INSERT INTO worker_dependencies (worker_id, dependency, open) VALUES \
         (gen_random_uuid(), 'kubernetes', true), (gen_random_uuid(), 'kubernetes', false), \
         (gen_random_uuid(), 'helm', false)",
    )
    .execute(&api.pool)
    .await
    .expect("reports");
    let health = api
        .call(Method::GET, "/api/v1/health", Some(&admin), None)
        .await;
    assert_eq!(health.body["status"], "degraded", "{health:?}");
    let circuits = &health.body["checks"]["circuits"];
    assert_eq!(circuits["kubernetes"]["status"], "open");
    assert_eq!(circuits["kubernetes"]["openOnWorkers"], 1);
    assert_eq!(circuits["kubernetes"]["workers"], 2);
    assert_eq!(circuits["helm"]["status"], "closed");
    let public = api.call(Method::GET, "/api/v1/health", None, None).await;
    assert!(
        public.body.get("checks").is_none(),
        "details are for admins"
    );
    // What a worker reports: its breakers' states, upserted under its id.
    let breakers = storeflow_executors::breaker::Breakers::default();
    for _ in 0..5 {
        let _ = breakers
            .helm
            .failed(storeflow_engine::StepOutcome::retry("connection refused"));
    }
    let worker = uuid::Uuid::new_v4();
    breakers.report(&api.pool, worker).await.expect("report");
    breakers
        .report(&api.pool, worker)
        .await
        .expect("report again");
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT dependency, open FROM worker_dependencies WHERE worker_id = $1 ORDER BY dependency",
    )
    .bind(worker)
    .fetch_all(&api.pool)
    .await
    .expect("rows");
    assert_eq!(
        rows,
        [("helm".to_owned(), true), ("kubernetes".to_owned(), false)]
    );

    // Tenants read the audit log of their own stores only: no security events.
    let theirs = api
        .call(Method::GET, "/api/v1/audit", Some(&tenant), None)
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.body["total"], 0, "{theirs:?}");
    let bad = api
        .call(Method::GET, "/api/v1/audit?limit=0", Some(&admin), None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn openapi_documents_every_route_the_router_serves() {
    let api = TestApi::start().await;
    let doc = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let documented: HashSet<(String, String)> = doc.body["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    assert_eq!(documented.len(), storeflow::api::routes().count());
    for (method, path) in &documented {
        // Every documented operation is routed: the answer is never the unknown-route 404.
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{step}", "1")
            .replace("{name}", "nightly");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));
        let reply = api.call(method.clone(), &concrete, None, body).await;
        assert!(
            !(reply.status == StatusCode::NOT_FOUND && reply.code() == "NOT_FOUND"),
            "{method} {path} is documented but not routed"
        );
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(
            !reply.status.is_server_error(),
            "{method} {path}: {reply:?}"
        );
    }
    // And the reverse: a request to a path missing from the document is not routed.
    assert_eq!(
        api.call(Method::GET, "/api/v1/stores-not-yet", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The dashboard generates its API types from its copy of the contract: that copy must be
/// the contract this server publishes.
#[test]
fn the_dashboards_copy_of_the_contract_is_the_servers() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboard/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let current = serde_json::to_string_pretty(&storeflow::openapi::document())
        .expect("document serializes")
        + "\n";
    assert!(
        committed == current,
        "dashboard/openapi.json is not the contract this server publishes: regenerate it with \
         `cargo run -q -p storeflow -- openapi > dashboard/openapi.json`, then run \
         `npm run api-types` in dashboard/ and fix what the type check finds"
    );
}
