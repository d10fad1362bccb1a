//! The audit trail is written in one place, `store::audit`: every route and workflow records
//! through `Audit`, so what a row holds (and that it never holds a secret) is decided there.
//! The lifecycle trigger's `status_changed` rows are SQL, in `migrations/functions/`.

use std::path::Path;

#[test]
fn only_the_store_domain_inserts_audit_rows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let writer = root.join("executors/src/store/audit.rs");
    let mut pending: Vec<_> = [
        "server/src",
        "executors/src",
        "workflows/src",
        "examples/custom-engine/src",
    ]
    .iter()
    .map(|dir| root.join(dir))
    .collect();
    let (mut scanned, mut offenders) = (0, Vec::new());
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(
                std::fs::read_dir(&path)
                    .expect("source dir")
                    .map(|e| e.expect("entry").path()),
            );
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") || path == writer {
            continue;
        }
        scanned += 1;
        let source = std::fs::read_to_string(&path).expect("source file");
        for (number, line) in source.lines().enumerate() {
            if line.to_ascii_uppercase().contains("INTO AUDIT_EVENTS") {
                offenders.push(format!("{}:{}", path.display(), number + 1));
            }
        }
    }
    assert!(scanned > 50, "found only {scanned} source files");
    assert!(
        std::fs::read_to_string(&writer)
            .expect("the audit writer")
            .contains("INSERT INTO audit_events"),
        "store::audit no longer writes the audit trail"
    );
    assert!(
        offenders.is_empty(),
        "audit rows written outside store::audit; record through storeflow_executors::store::Audit:\n{}",
        offenders.join("\n")
    );
}
