//! Scratch files a worker owns while one step runs (helm's values file, a backup part's
//! spool), named after the worker's process id so that the files of a worker that was
//! SIGKILLed — which removes nothing — are recognised and removed by the next worker that
//! writes one.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `<dir>/<prefix><pid>-<rest>`: a scratch file of this process.
pub fn path(dir: &Path, prefix: &str, rest: &str) -> PathBuf {
    dir.join(format!("{prefix}{}-{rest}", std::process::id()))
}

/// Removes the files named `<prefix><pid>-…` in `dir` whose process is gone, or that are
/// older than `max_age` (a process id reused by a restarted container). This process's
/// files and other files are left alone.
pub fn sweep(dir: &Path, prefix: &str, max_age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let gone = !Path::new(&format!("/proc/{pid}")).exists();
        let stale = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if gone || stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_gone_processes_are_swept_and_live_ones_kept() {
        let dir =
            std::env::temp_dir().join(format!("storeflow-sweep-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        // No process has id 4194304 (above Linux's pid_max limit).
        let gone = dir.join("storeflow-values-4194304-a.json");
        let mine = path(&dir, "storeflow-values-", "b.json");
        let parent = dir.join("storeflow-values-1-c.json");
        let other_kind = dir.join("storeflow-spool-4194304-d.sfbk");
        let unrelated = dir.join("unrelated.json");
        for file in [&gone, &mine, &parent, &other_kind, &unrelated] {
            std::fs::write(file, b"{}").expect("write");
        }
        sweep(&dir, "storeflow-values-", Duration::from_secs(3600));
        assert!(!gone.exists(), "a gone worker's file is removed");
        assert!(mine.exists() && parent.exists(), "live workers' files stay");
        assert!(
            other_kind.exists() && unrelated.exists(),
            "only files of this prefix are touched"
        );
        sweep(&dir, "storeflow-values-", Duration::ZERO);
        assert!(mine.exists(), "this process's files are never swept");
        assert!(!parent.exists(), "files older than the age are swept");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
