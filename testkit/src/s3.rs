//! A real S3-compatible server for tests: moto's server mode (`moto_server`, from the PyPI
//! package `moto[server]`; `.ci/run` and `scripts/test-all.sh` install it into
//! `target/moto-venv`, or `STOREFLOW_MOTO_SERVER` names the program), on a free loopback
//! port, with one bucket.
//!
//! The server runs under a small `sh` guard that waits on a pipe from this process: when the
//! test process ends however it ends (also SIGKILL), the pipe closes and the guard stops the
//! server, so no server outlives its tests.
//!
//! The helpers below speak plain HTTP/1.1 to it (moto checks no signature): the tests
//! use them to look at and damage what storeflow stored, independently of storeflow's client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What the helpers send as `Authorization`: moto checks no signature, but it owns objects by
/// the access key that wrote them and refuses anonymous reads of them, so the helpers speak
/// as the workers' key ([`S3Server::worker_env`]).
const AS_WORKER: &str = "AWS4-HMAC-SHA256 Credential=storeflow-test/20261204/us-east-1/s3/aws4_request, \
                         SignedHeaders=host, Signature=0";

/// A running moto server with one bucket.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    guard: Option<ChildStdin>,
    port: u16,
    bucket: String,
}

fn program() -> PathBuf {
    std::env::var_os("STOREFLOW_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::realcluster::repo_root().join("target/moto-venv/bin/moto_server"))
}

impl S3Server {
    /// Starts a server and creates `bucket` in it.
    pub fn start(bucket: &str) -> anyhow::Result<S3Server> {
        use std::os::unix::process::CommandExt as _;
        let program = program();
        if !program.is_file() {
            bail!(
                "no S3-compatible server for the backup tests at {}: install it with \
                 `python3 -m venv target/moto-venv && target/moto-venv/bin/pip install 'moto[server]'` \
                 (scripts/test-all.sh does), or set STOREFLOW_MOTO_SERVER",
                program.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("a free port")?
            .port();
        let log = std::env::temp_dir().join(format!("storeflow-moto-{port}.log"));
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 & pid=$!; cat >/dev/null; kill $pid; wait $pid"#)
            .arg(&program)
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let mut server = S3Server {
            guard: None,
            child,
            port,
            bucket: bucket.to_owned(),
        };
        server.guard = server.child.stdin.take();
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = server.request("GET", "/", &[]) {
                break;
            }
            if Instant::now() > until {
                bail!(
                    "moto did not answer on port {port} within 60 s: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, body) = server.request("PUT", &format!("/{bucket}"), &[])?;
        if status != 200 {
            bail!(
                "creating bucket {bucket}: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The environment a storeflow worker needs to use this bucket.
    pub fn worker_env(&self) -> Vec<(String, String)> {
        vec![
            ("BACKUP_S3_BUCKET".into(), self.bucket.clone()),
            ("BACKUP_S3_ENDPOINT".into(), self.endpoint()),
            ("BACKUP_S3_REGION".into(), "us-east-1".into()),
            ("BACKUP_S3_ACCESS_KEY_ID".into(), "storeflow-test".into()),
            (
                "BACKUP_S3_SECRET_ACCESS_KEY".into(),
                "storeflow-test-secret".into(),
            ),
        ]
    }

    /// One request; returns the status and the body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\
             Authorization: {AS_WORKER}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )?;
        stream.write_all(body)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .context("no HTTP header in the answer")?;
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status")?;
        let mut body = answer[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body)?;
        }
        Ok((status, body))
    }

    /// Keys under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let (status, body) = self.request(
            "GET",
            &format!("/{}?list-type=2&prefix={prefix}", self.bucket),
            &[],
        )?;
        if status != 200 {
            bail!("listing {prefix}: {status}");
        }
        let text = String::from_utf8_lossy(&body);
        let mut keys: Vec<String> = text
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn incomplete_uploads(&self) -> anyhow::Result<usize> {
        let (status, body) = self.request("GET", &format!("/{}?uploads", self.bucket), &[])?;
        if status != 200 {
            bail!("listing multipart uploads: {status}");
        }
        Ok(String::from_utf8_lossy(&body).matches("<Upload>").count())
    }

    pub fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        let (status, body) = self.request("GET", &format!("/{}/{key}", self.bucket), &[])?;
        if status != 200 {
            bail!("reading {key}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }

    pub fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let (status, body) = self.request("PUT", &format!("/{}/{key}", self.bucket), bytes)?;
        if status != 200 {
            bail!("writing {key}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk size line")?;
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&body[..line_end])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // Closing the pipe tells the guard to stop the server.
        drop(self.guard.take());
        let _ = self.child.wait();
    }
}
