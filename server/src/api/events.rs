//! Live progress: run events as Server-Sent Events, resumable with `Last-Event-ID`.
//!
//! One `LISTEN storeflow_events` connection per process feeds a watch channel with the
//! highest announced event id; each stream re-reads its run's events after the last id it
//! sent whenever that changes, so nothing is lost between a notification and a read, and a
//! reconnecting client resumes exactly after the last event it saw.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::{Value, json};
use sqlx::postgres::PgListener;
use storeflow_engine::{EVENTS_CHANNEL, Engine, RunEvent};
use tokio::sync::watch;
use uuid::Uuid;

use super::{ApiPath, AppState, Route, runs::redact, schema};
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::tenancy::{self, Scope};

pub(super) const ROUTES: &[Route] = &[Route::get(
    "/api/v1/runs/{id}/events/stream",
    "Run progress as Server-Sent Events; resume with Last-Event-ID (204 once a finished \
     run's events have all been seen)",
    || axum::routing::get(run_events),
)
.admin()
.event_stream(schema::<storeflow_engine::RunEvent>)
.no_content_too()];

/// The process-wide feed of "new events exist" signals. Its value counts the
/// notifications received (and reconnections), so it also tells the page cache whether any
/// run changed since a rendering was made.
#[derive(Debug)]
pub struct EventHub {
    latest: watch::Sender<u64>,
    /// Whether the `LISTEN` connection is up: while it is not, notifications are missed
    /// and the count proves nothing.
    listening: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl EventHub {
    /// Starts the `LISTEN` task (reconnecting on failure) and returns the hub.
    pub fn start(engine: &Engine) -> EventHub {
        use std::sync::atomic::Ordering;
        let (latest, _) = watch::channel(0);
        let sender = latest.clone();
        let listening = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let up = listening.clone();
        let pool = engine.pool().clone();
        tokio::spawn(async move {
            loop {
                match PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if listener.listen(EVENTS_CHANNEL).await.is_ok() {
                            // Anything announced while we were not listening: make streams look.
                            sender.send_modify(|n| *n += 1);
                            up.store(true, Ordering::SeqCst);
                            // Runs for the life of the process: streams come and go.
                            while listener.recv().await.is_ok() {
                                sender.send_modify(|n| *n += 1);
                            }
                            up.store(false, Ordering::SeqCst);
                            sender.send_modify(|n| *n += 1);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "event feed: LISTEN connection failed; retrying")
                    }
                }
                if sender.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        EventHub { latest, listening }
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// How many notifications (and reconnections) this process has seen, if it is
    /// listening now; `None` while it is not (then nothing can be concluded from it).
    pub fn generation(&self) -> Option<u64> {
        self.listening
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| *self.latest.borrow())
    }
}

pub(super) fn last_event_id(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    match headers.get("last-event-id") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::validation(
                    "Last-Event-ID must be the id of an event this stream sent (a non-negative integer).",
                    json!([{ "field": "Last-Event-ID" }]),
                )
            }),
    }
}

/// How long one stream may stay open; clients reconnect with `Last-Event-ID`.
const MAX_STREAM_LIFETIME: Duration = Duration::from_secs(3600);

/// Where a stream's events come from.
enum Source {
    /// One run; the stream ends after the run's `finished` event.
    Run { engine: Engine, run_id: Uuid },
    /// Every run of a store, read with the viewer's row-level security; a store gets new
    /// runs (retry, teardown), so the stream stays open.
    Store {
        pool: sqlx::PgPool,
        scope: Scope,
        store_id: String,
    },
}

impl Source {
    async fn events_after(&self, after: i64) -> Result<Vec<RunEvent>, String> {
        match self {
            Source::Run { engine, run_id } => engine
                .run_events(*run_id, Some(after), 500)
                .await
                .map_err(|err| err.to_string()),
            Source::Store {
                pool,
                scope,
                store_id,
            } => {
                let read = async {
                    let mut tx = tenancy::begin(pool, *scope).await?;
                    let events: Vec<RunEvent> = sqlx::query_as(
                        "SELECT id, run_id, at, kind, step_index, step_name, attempt, data \
                         FROM workflow_subject_events($1) WHERE id > $2 ORDER BY id LIMIT 500",
                    )
                    .bind(store_id)
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    let mut events = events;
                    // Tenants do not learn which operator acted.
                    if matches!(scope, Scope::Tenant(_)) {
                        for event in &mut events {
                            if let Some(Value::Object(map)) = &mut event.data {
                                map.remove("by");
                            }
                        }
                    }
                    Ok::<_, sqlx::Error>(events)
                };
                read.await.map_err(|err| err.to_string())
            }
        }
    }

    fn ends_at_finish(&self) -> bool {
        matches!(self, Source::Run { .. })
    }
}

struct StreamState {
    stop: tokio_util::sync::CancellationToken,
    deadline: tokio::time::Instant,
    source: Source,
    after: i64,
    changes: watch::Receiver<u64>,
    buffer: VecDeque<RunEvent>,
    finished: bool,
}

fn to_sse(event: &RunEvent) -> Event {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    redact(&mut value);
    Event::default()
        .id(event.id.to_string())
        .event(event.kind.clone())
        .data(value.to_string())
}

/// Events of one run from `after` on, until the run's `finished` event, `stop`, or the
/// maximum lifetime.
pub fn run_event_stream(
    engine: Engine,
    changes: watch::Receiver<u64>,
    stop: tokio_util::sync::CancellationToken,
    run_id: Uuid,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    event_stream(Source::Run { engine, run_id }, changes, stop, after)
}

/// Events of every run of a store from `after` on, as `scope` may see them, until `stop` or
/// the maximum lifetime.
pub fn store_event_stream(
    pool: sqlx::PgPool,
    scope: Scope,
    changes: watch::Receiver<u64>,
    stop: tokio_util::sync::CancellationToken,
    store_id: String,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    event_stream(
        Source::Store {
            pool,
            scope,
            store_id,
        },
        changes,
        stop,
        after,
    )
}

fn event_stream(
    source: Source,
    changes: watch::Receiver<u64>,
    stop: tokio_util::sync::CancellationToken,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = StreamState {
        stop,
        deadline: tokio::time::Instant::now() + MAX_STREAM_LIFETIME,
        source,
        after,
        changes,
        buffer: VecDeque::new(),
        finished: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.buffer.pop_front() {
                state.after = event.id;
                if event.kind == "finished" && state.source.ends_at_finish() {
                    state.finished = true;
                    state.buffer.clear();
                }
                return Some((Ok(to_sse(&event)), state));
            }
            if state.finished {
                return None;
            }
            state.changes.borrow_and_update();
            match state.source.events_after(state.after).await {
                Ok(events) if !events.is_empty() => {
                    state.buffer.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "event stream: reading events failed"),
            }
            tokio::select! {
                _ = state.stop.cancelled() => return None,
                _ = tokio::time::sleep_until(state.deadline) => return None,
                changed = state.changes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                // A slow fallback in case a notification was missed.
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    })
}

pub async fn run_events(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let run_id: Uuid = id.parse().map_err(|_| {
        ApiError::validation(
            format!("`{id}` is not a run id (a UUID)."),
            json!([{ "field": "id" }]),
        )
    })?;
    let after = last_event_id(&headers)?.unwrap_or(0);
    // 404 for an unknown run before the stream starts; 204 when the client has already seen
    // the end of a finished run (EventSource then stops reconnecting).
    let Some(finished) = state.engine().run_finished(run_id).await? else {
        return Err(storeflow_engine::Error::RunNotFound(run_id).into());
    };
    if finished
        && state
            .engine()
            .run_events(run_id, Some(after), 1)
            .await?
            .is_empty()
    {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let stream = run_event_stream(
        state.engine().clone(),
        state.event_hub().subscribe(),
        state.shutdown_token(),
        run_id,
        after,
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
