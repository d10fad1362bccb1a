//! Metrics the API records (the engine's are in `storeflow_engine::metrics`, the stores' in
//! `storeflow_executors::metrics`). `charts/storeflow/dashboards/storeflow.json` charts them;
//! a process test checks every metric its panels query is exported.

/// Counter, labels `method`, `route` (the route template, `unmatched` for none), `status`.
pub const HTTP_REQUESTS: &str = "storeflow_http_requests_total";
/// Histogram (seconds), labels `method`, `route`, `status`.
pub const HTTP_REQUEST_DURATION: &str = "storeflow_http_request_duration_seconds";
/// Counter, label `kind` (registration, login_failed, account_locked, …): security audit
/// events as they are written.
pub const SECURITY_EVENTS: &str = "storeflow_security_events_total";
/// Counter, label `engine`: stores requested through the API.
pub const STORES_CREATED: &str = "storeflow_stores_created_total";

/// Every metric the API records.
pub const ALL: &[&str] = &[
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    SECURITY_EVENTS,
    STORES_CREATED,
];

/// Registers descriptions and units of the API's metrics (and the stores').
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status");
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request duration by method, route and status"
    );
    describe_counter!(SECURITY_EVENTS, "Security audit events by kind");
    describe_counter!(STORES_CREATED, "Stores requested, by engine");
    storeflow_executors::metrics::describe();
}

/// Bucket bounds (seconds) of every `*_seconds` histogram: request latencies to provisioning
/// times.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0,
];
/// Bucket bounds of the checkpoint batch size.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The Prometheus exporter every process uses: histograms with buckets (so dashboards can
/// aggregate quantiles across processes with `histogram_quantile`), not per-process summaries.
pub fn prometheus_builder()
-> Result<metrics_exporter_prometheus::PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(storeflow_engine::metrics::CHECKPOINT_BATCH.into()),
            BATCH_BUCKETS,
        )
}

#[cfg(test)]
mod tests {
    /// The metric a Prometheus series name belongs to (histograms export `_bucket`, `_sum`,
    /// `_count`).
    fn metric_of(series: &str) -> &str {
        ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| series.strip_suffix(suffix))
            .unwrap_or(series)
    }

    #[test]
    fn every_panel_of_the_grafana_dashboard_queries_metrics_storeflow_exports() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../charts/storeflow/dashboards/storeflow.json"
        );
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard"))
                .expect("the dashboard is JSON");
        let exported: Vec<&str> = super::ALL
            .iter()
            .chain(storeflow_engine::metrics::ALL)
            .chain(storeflow_executors::metrics::ALL)
            .copied()
            .collect();
        let panels = dashboard["panels"].as_array().expect("panels");
        let mut queried = 0;
        for panel in panels.iter().filter(|p| p["type"] != "row") {
            let targets = panel["targets"].as_array().expect("targets");
            assert!(
                !targets.is_empty(),
                "panel {} queries nothing",
                panel["title"]
            );
            for target in targets {
                let expr = target["expr"].as_str().expect("expr");
                let names: Vec<&str> = expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|word| word.starts_with("storeflow_"))
                    .collect();
                assert!(
                    !names.is_empty(),
                    "{}: `{expr}` names no storeflow metric",
                    panel["title"]
                );
                for name in names {
                    assert!(
                        exported.contains(&metric_of(name)),
                        "{}: `{expr}` queries {name}, which storeflow does not export",
                        panel["title"]
                    );
                    queried += 1;
                }
            }
        }
        // The dashboard charts every metric there is.
        for metric in &exported {
            let text = dashboard.to_string();
            assert!(text.contains(metric), "no panel charts {metric}");
        }
        assert!(queried > 0);
    }
}
