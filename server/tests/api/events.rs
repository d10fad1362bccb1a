//! Live progress over Server-Sent Events: in order, complete, resumable.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use storeflow_engine::{NewRun, Worker, WorkerOptions};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::*;

/// (id, event) pairs of an SSE body, read until the server ends the stream.
async fn read_stream(
    api: &TestApi,
    path: &str,
    token: &str,
    last_event_id: Option<i64>,
) -> Vec<(i64, String)> {
    let mut request = Request::get(path).header("authorization", format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = api
        .router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut text = String::new();
    let read_all = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_all)
        .await
        .expect("the stream ends after `finished`");
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let id = block
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .and_then(|v| v.parse().ok());
        let kind = block.lines().find_map(|l| l.strip_prefix("event: "));
        if let (Some(id), Some(kind)) = (id, kind) {
            events.push((id, kind.to_owned()));
        }
    }
    events
}

#[tokio::test]
async fn run_progress_streams_in_order_and_resumes_after_last_event_id() {
    let api = TestApi::start().await;
    let (_, admin) = api.register("admin@example.com", "admin").await;
    let stop = CancellationToken::new();
    let options = WorkerOptions {
        poll_interval: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    let worker = tokio::spawn(Worker::new(api.engine.clone(), options).run(stop.clone()));
    let run = api
        .engine
        .enqueue_now(NewRun::new(
            "selftest",
            json!({ "steps": 3, "delay_ms": 100 }),
        ))
        .await
        .expect("enqueued");
    let path = format!("/api/v1/runs/{}/events/stream", run.run_id);

    // Opened while the run is in flight: the stream delivers everything, then ends.
    let live = read_stream(&api, &path, &admin, None).await;
    let stored = api.engine.get_run(run.run_id).await.expect("run");
    let expected: Vec<(i64, String)> = stored
        .events
        .iter()
        .map(|e| (e.id, e.kind.clone()))
        .collect();
    assert_eq!(live, expected, "every event, in order, exactly once");
    assert_eq!(live.last().map(|(_, k)| k.as_str()), Some("finished"));

    // A client that saw the first four events resumes after the fourth.
    let resumed = read_stream(&api, &path, &admin, Some(live[3].0)).await;
    assert_eq!(resumed, live[4..].to_vec());

    // Reconnecting after the end (as EventSource does) gets 204: nothing more will come.
    let done = send(
        &api.router,
        Request::get(&path)
            .header("authorization", format!("Bearer {admin}"))
            .header(
                "last-event-id",
                live.last()
                    .map(|(id, _)| *id)
                    .unwrap_or_default()
                    .to_string(),
            )
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);

    let unknown = api
        .call(
            Method::GET,
            "/api/v1/runs/00000000-0000-0000-0000-000000000000/events/stream",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let anonymous = api.call(Method::GET, &path, None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let bad = send(
        &api.router,
        Request::get(&path)
            .header("authorization", format!("Bearer {admin}"))
            .header("last-event-id", "yesterday")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    stop.cancel();
    worker.await.expect("joined").expect("worker ok");
}
