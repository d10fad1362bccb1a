//! README.md's two commands, checked as written: "Run it" brings up the API and the dashboard
//! from a fresh copy of the repository and stops cleanly on SIGTERM; "Test it" is the command
//! CI (`.ci/run`) calls. A README that drifts from what works fails here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::up::{
    announcement, free_port, private_database_runs, processes_mentioning, request, stop,
    wait_ready_within,
};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository")
}

/// The first ```sh block under the README heading `heading`, its lines without comments.
fn readme_command(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let section = readme
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no `{heading}` section"))
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .unwrap_or_else(|| panic!("`{heading}` in README.md has no ```sh block"))
        .0;
    block
        .lines()
        .map(|line| {
            line.split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn readme_test_command_is_the_one_ci_runs() {
    let command = readme_command("## Test it");
    assert_eq!(command.len(), 1, "one test command: {command:?}");
    let ci = std::fs::read_to_string(repository().join(".ci/run")).expect(".ci/run");
    let last = ci
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty() && !line.starts_with('#'))
        .expect("a command in .ci/run");
    assert_eq!(last, command[0], ".ci/run ends with README's test command");
    assert!(
        repository()
            .join(command[0].trim_start_matches("./"))
            .is_file(),
        "{} exists",
        command[0]
    );
}

/// The tracked files of the repository, copied to `into` (what a fresh clone holds).
fn fresh_copy(into: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repository())
        .output()
        .expect("git ls-files");
    assert!(listed.status.success(), "git ls-files");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let relative = Path::new(std::str::from_utf8(file).expect("utf-8 path"));
        let source = repository().join(relative);
        // Listed but deleted in the working tree: not in a fresh clone of this tree either.
        if !source.exists() {
            continue;
        }
        let target = into.join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dir");
        std::fs::copy(&source, &target).expect("copy");
    }
}

/// README's run command is `cargo run … -p <package> -- <args>`: `cargo run` picks the
/// `storeflow` binary of that package (its default-run), and the args go to it.
fn run_command_args() -> Vec<String> {
    let command = readme_command("## Run it");
    assert_eq!(command.len(), 1, "one run command: {command:?}");
    let words: Vec<&str> = command[0].split_whitespace().collect();
    assert_eq!(&words[..2], ["cargo", "run"], "{command:?}");
    let (cargo_args, args) = words.split_at(
        words
            .iter()
            .position(|w| *w == "--")
            .expect("`--` before the args"),
    );
    let package = cargo_args
        .windows(2)
        .find(|pair| pair[0] == "-p" || pair[0] == "--package")
        .map(|pair| pair[1])
        .expect("-p <package>");
    assert!(
        !cargo_args.contains(&"--bin"),
        "README's command relies on the package's default binary"
    );
    let manifest =
        std::fs::read_to_string(repository().join("server/Cargo.toml")).expect("manifest");
    assert!(
        manifest.contains(&format!("name = \"{package}\"")),
        "the package {package} is server/"
    );
    assert!(
        manifest.contains("default-run = \"storeflow\""),
        "`cargo run -p {package}` must choose the storeflow binary among the package's binaries"
    );
    args[1..].iter().map(|arg| (*arg).to_owned()).collect()
}

/// Runs README's run command (the built binary, with README's arguments) in a fresh copy of
/// the repository, as it would on a new machine: no database configured, no cluster, no
/// built dashboard and no npm packages in the copy.
fn run_readme_command_in_a_fresh_copy(user: Option<&str>) {
    let args = run_command_args();
    let root = std::env::temp_dir().join(format!(
        "storeflow-readme-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let copy = root.join("storeflow");
    fresh_copy(&copy);
    let home = root.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let port = free_port();
    let stdout = root.join("stdout");
    let stderr = root.join("stderr");
    let mut command = match user {
        Some(user) => {
            // A normal user owns its clone and its home.
            let owned = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(&root)
                .status()
                .expect("chown");
            assert!(owned.success());
            let group = Command::new("id")
                .args(["-g", user])
                .output()
                .expect("id -g");
            let group = String::from_utf8_lossy(&group.stdout).trim().to_owned();
            let mut command = Command::new("/usr/bin/setpriv");
            command
                .args(["--reuid", user, "--regid", &group, "--clear-groups"])
                .args(["--pdeathsig", "TERM", "--"])
                .arg(env!("CARGO_BIN_EXE_storeflow"));
            command
        }
        None => crate::storeflow_binary(),
    };
    command
        .args(&args)
        .current_dir(&copy)
        // README's command takes the default port; this one takes a free one the same way
        // operators move it (PORT), so parallel tests do not collide.
        .env("PORT", port.to_string())
        .env("HOME", &home)
        .env("npm_config_cache", home.join(".npm"))
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env_remove("STOREFLOW_ENCRYPTION_KEY")
        .env_remove("STOREFLOW_DASHBOARD_DIR")
        .env_remove("STOREFLOW_DATA_DIR")
        .env_remove("KUBECONFIG")
        .env("STOREFLOW_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout"))
        .stderr(std::fs::File::create(&stderr).expect("stderr"));
    let mut child = command.spawn().expect("storeflow up starts");
    // The first start builds the dashboard (npm ci, vite build).
    wait_ready_within(port, &mut child, Duration::from_secs(600));
    let said = announcement(&stdout);
    let page = request(port, "GET", "/", None);
    let (_, health) = request(port, "GET", "/api/v1/health", None).expect("health");
    stop(&mut child);
    let data_dir = copy.join(".storeflow");
    let left = processes_mentioning(&root.display().to_string());
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(
        said.contains(&format!("dashboard: http://localhost:{port}/")),
        "{said}\n{log}"
    );
    let (status, html) = page.expect("the dashboard answers");
    assert_eq!(status, 200);
    assert!(html.contains("<div id=\"root\">"), "{html}");
    assert!(health.contains("\"status\":\"healthy\""), "{health}");
    assert!(
        said.contains("next: open") && said.contains("register"),
        "{said}"
    );
    assert!(
        !private_database_runs(&data_dir),
        "the private PostgreSQL stopped"
    );
    assert!(left.is_empty(), "left running: {left:#?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn readme_run_command_brings_up_api_and_dashboard_from_a_fresh_copy() {
    run_readme_command_in_a_fresh_copy(None);
}

/// As root (CI) the same command works for a normal user too: the private PostgreSQL runs as
/// that user, npm builds into that user's copy.
#[test]
fn readme_run_command_works_for_a_normal_user() {
    // Whether this runs as root: a process's /proc entry belongs to its user.
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        // Not root: the test above already ran it as a normal user.
        return;
    }
    run_readme_command_in_a_fresh_copy(Some("nobody"));
}
