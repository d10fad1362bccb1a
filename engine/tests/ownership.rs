//! The engine owns its tables (`workflow_*`): every other crate reads and changes runs through
//! the engine — its methods, its `StepContext`, or its SQL read functions
//! (`migrations/functions/workflow_*.sql`) inside their own queries — so a change to those
//! tables is the engine's alone. Tests may look at the tables directly; product code may not.

use std::path::{Path, PathBuf};

/// The engine's tables, as its migrations create them.
fn engine_tables() -> Vec<String> {
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(&migrations).expect("migrations dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|ext| ext != "sql") {
            continue;
        }
        let sql = std::fs::read_to_string(&path).expect("migration");
        for statement in sql.split("CREATE TABLE ").skip(1) {
            let name: String = statement
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with("workflow_") && !tables.contains(&name) {
                tables.push(name);
            }
        }
    }
    tables
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn no_other_crate_names_the_engines_tables() {
    let tables = engine_tables();
    assert!(
        tables.contains(&"workflow_runs".to_owned()) && tables.len() >= 5,
        "the migrations no longer create the engine's tables as expected: {tables:?}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for crate_src in [
        "server/src",
        "executors/src",
        "workflows/src",
        "fakecluster/src",
        "testkit/src",
        "examples/custom-engine/src",
    ] {
        rust_files(&root.join(crate_src), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut offenders = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path).expect("source file");
        for (number, line) in source.lines().enumerate() {
            let mut words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            if let Some(table) = words.find(|word| tables.iter().any(|t| t == word)) {
                offenders.push(format!("{}:{}: {table}", path.display(), number + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "code outside the engine names its tables; go through storeflow_engine instead:\n{}",
        offenders.join("\n")
    );
}
