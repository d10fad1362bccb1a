//! Local PostgreSQL clusters run from the server binaries installed on the machine
//! (`initdb`/`pg_ctl` on `PATH` or under `/usr/lib/postgresql/*/bin`).
//!
//! # Guarantees
//! - A cluster directory is initialized once and reused: `ensure_initialized` leaves an
//!   existing cluster alone.
//! - As root, every server binary runs as the `postgres` system user (PostgreSQL refuses to
//!   run as root) and the directory is handed to that user.
//!
//! # Caveats
//! - Synchronous (`std::process`): meant for start-up and shutdown, not for async hot paths.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What can go wrong, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "PostgreSQL server binary `{0}` not found on PATH or under /usr/lib/postgresql/*/bin: \
         install the PostgreSQL server (Debian: `apt-get install postgresql`), or set DATABASE_URL \
         to an existing server"
    )]
    BinaryNotFound(&'static str),
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Only the Unix socket in the cluster directory (nothing on the network).
    SocketOnly,
    /// TCP on 127.0.0.1 at this port, plus the socket.
    Loopback(u16),
}

/// A cluster in a directory: `<dir>/data` holds the data, `<dir>` the socket and the log.
#[derive(Debug, Clone)]
pub struct Cluster {
    dir: PathBuf,
    bin_dir: PathBuf,
    listen: Listen,
    superuser: String,
    settings: Vec<(String, String)>,
    as_postgres: bool,
    initdb_no_sync: bool,
}

fn find_bin_dir() -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|dir| dir.join("initdb").is_file());
    // Highest version first: directory names are major versions.
    versions.sort_by_key(|dir| {
        dir.parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().ok_or(Error::BinaryNotFound("initdb"))
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

impl Cluster {
    /// A cluster in `dir` (created if missing) with superuser `superuser`.
    pub fn new(dir: impl Into<PathBuf>, listen: Listen, superuser: &str) -> Result<Cluster> {
        Ok(Cluster {
            dir: dir.into(),
            bin_dir: find_bin_dir()?,
            listen,
            superuser: superuser.to_owned(),
            settings: Vec::new(),
            as_postgres: running_as_root(),
            initdb_no_sync: false,
        })
    }

    /// An extra server setting (`-c name=value`).
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Skip initdb's fsync (throwaway clusters only: a crash may corrupt the new cluster).
    pub fn initdb_no_sync(mut self) -> Self {
        self.initdb_no_sync = true;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    fn command(&self, name: &str) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.binary(name));
            command
        } else {
            Command::new(self.binary(name))
        }
    }

    fn run(&self, mut command: Command, what: &str) -> Result<()> {
        let output = command.output().map_err(io(format!("running {what}")))?;
        if output.status.success() {
            return Ok(());
        }
        let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        Err(Error::Command {
            what: what.to_owned(),
            detail,
        })
    }

    /// Creates the directory and runs `initdb` unless the cluster already exists.
    /// Returns true when a new cluster was created.
    pub fn ensure_initialized(&self) -> Result<bool> {
        if self.data_dir().join("PG_VERSION").is_file() {
            return Ok(false);
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(io(format!("creating {}", self.dir.display())))?;
        if self.as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:postgres").arg(&self.dir);
            self.run(chown, "handing the database directory to the postgres user")?;
        }
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(self.data_dir()).args([
            "-U",
            &self.superuser,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        if self.initdb_no_sync {
            initdb.arg("--no-sync");
        }
        self.run(initdb, "initdb")?;
        Ok(true)
    }

    /// Writes `contents` to `name` in the data directory (say `server.key` or `pg_hba.conf`)
    /// with file mode `mode`, owned by the user the server runs as (PostgreSQL refuses a key
    /// file it does not own). The cluster must be initialized.
    pub fn write_data_file(&self, name: &str, contents: &[u8], mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data_dir().join(name);
        std::fs::write(&path, contents).map_err(io(format!("writing {}", path.display())))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(io(format!("setting the mode of {}", path.display())))?;
        if self.as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres:postgres").arg(&path);
            self.run(chown, "handing the file to the postgres user")?;
        }
        Ok(())
    }

    /// True when a server is running on this cluster's data directory.
    pub fn is_running(&self) -> bool {
        let mut status = self.command("pg_ctl");
        status.arg("-D").arg(self.data_dir()).arg("status");
        status.output().map(|o| o.status.success()).unwrap_or(false)
    }

    /// Starts the server and waits until it accepts connections (no-op if running).
    pub fn start(&self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let mut options = format!("-c unix_socket_directories='{}'", self.dir.display());
        match self.listen {
            Listen::SocketOnly => options.push_str(" -c listen_addresses='' -c port=5432"),
            Listen::Loopback(port) => {
                options.push_str(&format!(" -c listen_addresses=127.0.0.1 -c port={port}"))
            }
        }
        for (name, value) in &self.settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data_dir())
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "start"]);
        self.run(start, "starting PostgreSQL")
            .map_err(|err| match err {
                Error::Command { what, detail } => Error::Command {
                    what,
                    detail: format!(
                        "{detail}\n{}",
                        std::fs::read_to_string(self.dir.join("postgres.log"))
                            .unwrap_or_default()
                            .lines()
                            .rev()
                            .take(10)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<Vec<_>>()
                            .join("\n")
                    ),
                },
                other => other,
            })
    }

    /// Stops the server (`fast`: disconnect clients, checkpoint; `immediate`: no checkpoint).
    pub fn stop(&self, immediate: bool) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let mut stop = self.command("pg_ctl");
        stop.arg("-D").arg(self.data_dir()).args([
            "-m",
            if immediate { "immediate" } else { "fast" },
            "-w",
            "stop",
        ]);
        self.run(stop, "stopping PostgreSQL")
    }

    /// A shell command that stops this cluster immediately (for a reaper process).
    pub fn stop_command_line(&self) -> String {
        format!(
            "{}'{}' -D '{}' stop -m immediate",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            self.binary("pg_ctl").display(),
            self.data_dir().display()
        )
    }

    /// A connection URL for `database`.
    pub fn url(&self, database: &str) -> String {
        match self.listen {
            Listen::Loopback(port) => {
                format!("postgres://{}@127.0.0.1:{port}/{database}", self.superuser)
            }
            Listen::SocketOnly => format!(
                "postgres://{}@localhost:5432/{database}?host={}",
                self.superuser,
                self.dir.display()
            ),
        }
    }
}
