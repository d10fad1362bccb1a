//! Process tests (tier 3): the real `storeflow` binary against a real PostgreSQL.

mod backups;
mod cli;
mod crash;
mod disconnects;
mod fake_vs_real;
mod fuzz;
mod limits;
mod outages;
mod provisioning;
mod readme;
mod real_cluster;
mod up;
mod upgrades;

use std::process::{Command, Output};

/// The real binary, started so that it gets SIGTERM when the thread that started it ends —
/// with its test, or however the test binary dies (killed, it must not leave workers or
/// servers running). `setpriv` is util-linux's, on every Debian; without it the binary runs
/// bare.
pub fn storeflow_binary() -> Command {
    const SETPRIV: &str = "/usr/bin/setpriv";
    if std::path::Path::new(SETPRIV).is_file() {
        let mut command = Command::new(SETPRIV);
        command
            .args(["--pdeathsig", "TERM", "--"])
            .arg(env!("CARGO_BIN_EXE_storeflow"));
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_storeflow"))
    }
}

pub fn storeflow(database_url: &str) -> Command {
    let mut command = storeflow_binary();
    command
        .env("DATABASE_URL", database_url)
        .env("STOREFLOW_ENCRYPTION_KEY", provisioning::KEY)
        .env_remove("RUST_LOG")
        .env_remove("STOREFLOW_LOG");
    command
}

pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("storeflow runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

pub fn run_err(command: &mut Command) -> Output {
    let output = command.output().expect("storeflow runs");
    assert!(!output.status.success(), "{command:?} should have failed");
    output
}
