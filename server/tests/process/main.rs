//! Process tests (tier 3): the real `storeflow` binary against a real PostgreSQL.

mod cli;
mod crash;
mod disconnects;
mod fake_vs_real;
mod outages;
mod provisioning;
mod real_cluster;
mod up;

use std::process::{Command, Output};

pub fn storeflow(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_storeflow"));
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
