//! storeflow's control plane: the HTTP API (this library, so tests call it in process) and
//! the `storeflow` binary built on it.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod metric_names;
pub mod openapi;
pub mod passwords;
pub use storeflow_executors::sealing;
pub mod store_rules;
pub mod tenancy;

pub use api::{ApiConfig, AppState, app};

#[cfg(test)]
mod layering {
    use std::path::Path;

    /// The engine owns its tables: the API reads runs through the engine (its methods, or its
    /// SQL read functions `workflow_run_summary`, `workflow_run_position`,
    /// `workflow_subject_events`, `workflow_subject_runs` inside the API's own queries), so a
    /// change to those tables is the engine's alone.
    #[test]
    fn the_server_writes_no_sql_on_the_engines_tables() {
        let tables = [
            "workflow_runs",
            "workflow_run_events",
            "workflow_step_attempts",
            "workflow_definitions",
            "workflow_definition_steps",
            "workflow_schedules",
            "workflow_selftest_journal",
        ];
        let mut offenders = Vec::new();
        let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("source dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let source = std::fs::read_to_string(&path).expect("source file");
                for (number, line) in source.lines().enumerate() {
                    // This test names them; every other mention is a query.
                    if path.ends_with("lib.rs") {
                        break;
                    }
                    let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                    if let Some(table) = words.into_iter().find(|w| tables.contains(w)) {
                        offenders.push(format!("{}:{}: {table}", path.display(), number + 1));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "server code names the engine's tables; read through storeflow_engine instead:\n{}",
            offenders.join("\n")
        );
    }
}
