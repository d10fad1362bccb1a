//! Store backups: a store's database and uploaded files, dumped through exec in the store's
//! pods, streamed through AES-256-GCM into an S3-compatible bucket, and brought back the same
//! way into a store.
//!
//! # Guarantees
//! - **Streamed**: a part travels exec → encryption → multipart upload in chunks of
//!   [`CHUNK`] bytes; no part is ever held whole in memory (a few chunks and one upload part
//!   are, per part).
//! - **No secret in argv**: the commands read the database password from the container's
//!   own environment (`MYSQL_PWD="$MARIADB_ROOT_PASSWORD"`), which the chart fills from the
//!   store Secret; the argv storeflow sends holds only `$NAME` references.
//! - **Encrypted at rest** with the installation's key (`STOREFLOW_ENCRYPTION_KEY`): every
//!   chunk is sealed with its own nonce and bound (AAD) to the backup, the part, its index and
//!   whether it is the last one, so chunks cannot be reordered, swapped between backups or
//!   cut off without the restore noticing.
//! - **Never half listed**: a part becomes an object only when its multipart upload completes
//!   (a worker killed mid-upload leaves an incomplete upload, which is never an object), and a
//!   backup is `complete` (listed as restorable) only after every part and its manifest are.
//! - **Checked before use**: a restore first reads every part through, comparing its SHA-256
//!   with the manifest and opening every chunk, and refuses a backup that does not match
//!   before it changes anything in the store.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use storeflow_engine::{OrOutcome, StepContext, StepOutcome, StepResult};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::breaker::{Breakers, guarded};
use crate::kubernetes::client;
use crate::pod_exec;
use crate::store::StoreRunInput;
use crate::store::sealing::Sealer;

/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 1 << 20;
/// Bytes per uploaded part of a multipart upload (S3's minimum is 5 MiB).
const UPLOAD_PART: usize = 8 << 20;
/// Upload parts in flight per backup part.
const UPLOADS_IN_FLIGHT: usize = 4;
/// The first bytes of every object storeflow writes into a bucket.
const MAGIC: &[u8; 8] = b"SFBK\x01\r\n\0";
/// Seal overhead per chunk: the nonce and the tag.
const SEAL_OVERHEAD: usize = 12 + 16;
/// The manifest's format name.
pub const MANIFEST_FORMAT: &str = "storeflow-backup/1";

/// One part of a store's backup and how it is taken and given back: commands run in one of
/// the store's containers (never a secret in them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupPart {
    /// `database`, `uploads`: the object's name in the backup.
    pub name: String,
    /// `app.kubernetes.io/name` of the pod.
    pub app: String,
    /// The container both commands run in.
    pub container: String,
    /// Writes the part to standard output.
    pub dump: Vec<String>,
    /// Reads the part from standard input and applies it; the part's size in bytes is appended
    /// as the last argument (commands read exactly that many bytes, so they never wait for an
    /// end of input that some exec implementations do not deliver).
    pub restore: Vec<String>,
}

/// `sh -c <script> sh`, the script's whitespace collapsed to single spaces: arguments appended to
/// the argv are the script's `$1`, `$2`, ... (a part's dump and restore commands are written
/// this way).
pub fn shell(script: &str) -> Vec<String> {
    let script: String = script.split_whitespace().collect::<Vec<_>>().join(" ");
    vec!["sh".into(), "-c".into(), script, "sh".into()]
}

/// The bucket backups go to (a worker resource, from `BACKUP_S3_*`).
#[derive(Clone)]
pub struct BackupBucket {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    describe: String,
}

impl std::fmt::Debug for BackupBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

/// Settings of the backup bucket, as read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSettings {
    /// The bucket's name (`BACKUP_S3_BUCKET`).
    pub bucket: String,
    /// `http(s)://host:port` of an S3-compatible server; `None` for AWS S3 itself.
    pub endpoint: Option<String>,
    /// The S3 region (`BACKUP_S3_REGION`, default `us-east-1`).
    pub region: String,
    /// Key prefix of every object storeflow writes, without surrounding slashes
    /// (`BACKUP_S3_PREFIX`, default `storeflow`).
    pub prefix: String,
}

impl BucketSettings {
    /// From `BACKUP_S3_BUCKET` (unset: backups are off), `BACKUP_S3_ENDPOINT`,
    /// `BACKUP_S3_REGION` (default `us-east-1`), `BACKUP_S3_PREFIX` (default `storeflow`).
    pub fn from_env() -> Result<Option<BucketSettings>, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(bucket) = var("BACKUP_S3_BUCKET") else {
            return Ok(None);
        };
        let endpoint = var("BACKUP_S3_ENDPOINT");
        if let Some(endpoint) = &endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(format!(
                "BACKUP_S3_ENDPOINT must start with http:// or https:// (got `{endpoint}`)"
            ));
        }
        Ok(Some(BucketSettings {
            bucket,
            endpoint,
            region: var("BACKUP_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            prefix: var("BACKUP_S3_PREFIX")
                .unwrap_or_else(|| "storeflow".into())
                .trim_matches('/')
                .to_owned(),
        }))
    }
}

impl BackupBucket {
    /// The bucket of `settings`, with credentials from `BACKUP_S3_ACCESS_KEY_ID` and
    /// `BACKUP_S3_SECRET_ACCESS_KEY` (else the usual AWS sources: environment, instance role).
    pub fn connect(settings: &BucketSettings) -> Result<BackupBucket, String> {
        // The bucket's HTTPS client uses the process's crypto provider: ring, as kube's. An
        // error only says one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region);
        if let Ok(id) = std::env::var("BACKUP_S3_ACCESS_KEY_ID") {
            builder = builder.with_access_key_id(id);
        }
        if let Ok(secret) = std::env::var("BACKUP_S3_SECRET_ACCESS_KEY") {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|err| format!("the backup bucket cannot be used: {err}"))?;
        Ok(BackupBucket {
            store: Arc::new(store),
            prefix: settings.prefix.clone(),
            describe: format!(
                "bucket {} at {}",
                settings.bucket,
                settings.endpoint.as_deref().unwrap_or("AWS S3")
            ),
        })
    }

    /// Writes, reads back and deletes a small object under the prefix: what a backup needs of
    /// the bucket (`storeflow doctor`).
    pub async fn probe(&self) -> Result<(), String> {
        let path = ObjectPath::from(format!(
            "{}/.storeflow-probe-{}",
            self.prefix,
            Uuid::new_v4()
        ));
        let check = async {
            self.store
                .put(&path, b"storeflow".to_vec().into())
                .await
                .map_err(|err| format!("writing {path}: {err}"))?;
            let read = self
                .store
                .get(&path)
                .await
                .map_err(|err| format!("reading {path}: {err}"))?
                .bytes()
                .await
                .map_err(|err| format!("reading {path}: {err}"))?;
            self.store
                .delete(&path)
                .await
                .map_err(|err| format!("deleting {path}: {err}"))?;
            if read.as_ref() == b"storeflow" {
                Ok(())
            } else {
                Err(format!("{path} read back different bytes"))
            }
        };
        match tokio::time::timeout(Duration::from_secs(15), check).await {
            Ok(result) => result,
            Err(_) => Err("no answer within 15 s".into()),
        }
    }

    /// A bucket over any object store (tests use an in-memory one).
    pub fn over(store: Arc<dyn ObjectStore>, prefix: &str) -> BackupBucket {
        BackupBucket {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            describe: "an object store".into(),
        }
    }

    /// Where the objects of one backup live: `<prefix>/stores/<store>/<backup>/`.
    pub fn backup_prefix(&self, store_id: &str, backup: Uuid) -> String {
        format!("{}/stores/{store_id}/{backup}", self.prefix)
    }

    fn object(&self, store_id: &str, backup: Uuid, name: &str) -> ObjectPath {
        ObjectPath::from(format!(
            "{}/{name}.sfbk",
            self.backup_prefix(store_id, backup)
        ))
    }

    /// Deletes every object of one backup (nothing there is fine).
    pub async fn delete_backup(&self, store_id: &str, backup: Uuid) -> Result<usize, String> {
        let prefix = ObjectPath::from(self.backup_prefix(store_id, backup));
        let mut listed = self.store.list(Some(&prefix));
        let mut deleted = 0;
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(|err| format!("listing {prefix}: {err}"))?;
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
                Err(err) => return Err(format!("deleting {}: {err}", meta.location)),
            }
        }
        Ok(deleted)
    }

    /// The objects of one backup: (location, size).
    pub async fn list_backup(
        &self,
        store_id: &str,
        backup: Uuid,
    ) -> Result<Vec<(String, u64)>, String> {
        let prefix = ObjectPath::from(self.backup_prefix(store_id, backup));
        let mut listed = self.store.list(Some(&prefix));
        let mut objects = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(|err| format!("listing {prefix}: {err}"))?;
            objects.push((meta.location.to_string(), meta.size));
        }
        objects.sort();
        Ok(objects)
    }
}

// ---------------------------------------------------------------------------------------
// The sealed stream format: MAGIC, then frames `u32 length (big endian) || nonce || sealed
// chunk`, the last one flagged in its AAD.

fn chunk_context(backup: Uuid, part: &str, index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(b"storeflow-backup/1\0");
    aad.extend_from_slice(backup.as_bytes());
    aad.extend_from_slice(part.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// What was written (or read) of one part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartSummary {
    /// Plaintext bytes.
    pub size: u64,
    /// Bytes of the object in the bucket.
    pub stored_size: u64,
    /// SHA-256 of the object in the bucket, hex.
    pub sha256: String,
}

/// Seals a part chunk by chunk. One chunk is held back until more data (or the end) shows
/// whether it is the last.
pub struct Encryptor {
    sealer: Sealer,
    backup: Uuid,
    part: String,
    index: u64,
    pending: BytesMut,
    hash: Sha256,
    size: u64,
    stored: u64,
    started: bool,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("backup", &self.backup)
            .field("part", &self.part)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Seals the part `part` of `backup`: both are bound into every chunk, so a
    /// [`Decryptor`] opens it only with the same two (and the same key).
    pub fn new(sealer: Sealer, backup: Uuid, part: &str) -> Encryptor {
        Encryptor {
            sealer,
            backup,
            part: part.to_owned(),
            index: 0,
            pending: BytesMut::new(),
            hash: Sha256::new(),
            size: 0,
            stored: 0,
            started: false,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        self.hash.update(bytes);
        self.stored += bytes.len() as u64;
        out.extend_from_slice(bytes);
    }

    fn frame(&mut self, plain: &[u8], last: bool, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.emit(out, MAGIC);
        }
        let context = chunk_context(self.backup, &self.part, self.index, last);
        let sealed = self.sealer.seal_for(plain, &context);
        self.index += 1;
        let length = (sealed.len() as u32).to_be_bytes();
        self.emit(out, &length);
        self.emit(out, &sealed);
    }

    /// Takes plaintext; returns the sealed bytes ready to store (possibly none yet).
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.size += data.len() as u64;
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        while self.pending.len() > CHUNK {
            let chunk = self.pending.split_to(CHUNK);
            self.frame(&chunk, false, &mut out);
        }
        out
    }

    /// The last sealed bytes and the summary of the whole part.
    pub fn finish(mut self) -> (Vec<u8>, PartSummary) {
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.pending);
        self.frame(&rest, true, &mut out);
        let summary = PartSummary {
            size: self.size,
            stored_size: self.stored,
            sha256: hex::encode(self.hash.finalize()),
        };
        (out, summary)
    }
}

/// Why a stored part was refused. Never contains key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptPart {
    /// The object does not start with storeflow's magic bytes.
    #[error("it is not a storeflow backup object (its first bytes are wrong)")]
    NotABackup,
    /// The chunk at this index (0-based) failed authentication: damaged, another key, another
    /// backup or part, or moved from another position.
    #[error("chunk {0} is damaged, was sealed with another key, or belongs to another backup")]
    CannotOpen(u64),
    /// The chunk at this index (0-based) has a length prefix (in bytes) no sealed chunk can
    /// have.
    #[error("chunk {0} claims an impossible length of {1} bytes")]
    BadLength(u64, usize),
    /// Bytes follow the chunk sealed as the last one.
    #[error("it goes on after its last chunk")]
    TrailingData,
    /// The object ended without a chunk sealed as the last one.
    #[error("it ends before its last chunk (the object was cut short)")]
    Truncated,
}

/// Opens a sealed part as its bytes arrive, and hashes what was stored.
pub struct Decryptor {
    sealer: Sealer,
    backup: Uuid,
    part: String,
    buffer: BytesMut,
    magic_seen: bool,
    index: u64,
    ended: bool,
    hash: Sha256,
    size: u64,
    stored: u64,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("backup", &self.backup)
            .field("part", &self.part)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Opens the part `part` of `backup`, which must be what its [`Encryptor`] was given.
    pub fn new(sealer: Sealer, backup: Uuid, part: &str) -> Decryptor {
        Decryptor {
            sealer,
            backup,
            part: part.to_owned(),
            buffer: BytesMut::new(),
            magic_seen: false,
            index: 0,
            ended: false,
            hash: Sha256::new(),
            size: 0,
            stored: 0,
        }
    }

    /// Takes stored bytes; returns the plaintext chunks they complete.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>, CorruptPart> {
        self.hash.update(data);
        self.stored += data.len() as u64;
        self.buffer.extend_from_slice(data);
        if !self.magic_seen {
            if self.buffer.len() < MAGIC.len() {
                return Ok(Vec::new());
            }
            if &self.buffer[..MAGIC.len()] != MAGIC {
                return Err(CorruptPart::NotABackup);
            }
            let _ = self.buffer.split_to(MAGIC.len());
            self.magic_seen = true;
        }
        let mut plain = Vec::new();
        while self.buffer.len() >= 4 {
            if self.ended {
                return Err(CorruptPart::TrailingData);
            }
            let length = u32::from_be_bytes([
                self.buffer[0],
                self.buffer[1],
                self.buffer[2],
                self.buffer[3],
            ]) as usize;
            if !(SEAL_OVERHEAD..=CHUNK + SEAL_OVERHEAD).contains(&length) {
                return Err(CorruptPart::BadLength(self.index, length));
            }
            if self.buffer.len() < 4 + length {
                break;
            }
            let _ = self.buffer.split_to(4);
            let sealed = self.buffer.split_to(length);
            // A chunk opens either as a middle chunk or as the last one, never both.
            let opened = self
                .sealer
                .open_for(
                    &sealed,
                    &chunk_context(self.backup, &self.part, self.index, false),
                )
                .map(|p| (p, false))
                .or_else(|_| {
                    self.sealer
                        .open_for(
                            &sealed,
                            &chunk_context(self.backup, &self.part, self.index, true),
                        )
                        .map(|p| (p, true))
                })
                .map_err(|_| CorruptPart::CannotOpen(self.index))?;
            self.index += 1;
            self.ended = opened.1;
            self.size += opened.0.len() as u64;
            plain.push(Bytes::from(opened.0));
        }
        if self.ended && !self.buffer.is_empty() {
            return Err(CorruptPart::TrailingData);
        }
        Ok(plain)
    }

    /// The summary, once every stored byte was pushed.
    pub fn finish(self) -> Result<PartSummary, CorruptPart> {
        if !self.magic_seen || !self.ended || !self.buffer.is_empty() {
            return Err(CorruptPart::Truncated);
        }
        Ok(PartSummary {
            size: self.size,
            stored_size: self.stored,
            sha256: hex::encode(self.hash.finalize()),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Steps

fn bucket<'a>(cx: &'a StepContext<'_>) -> Result<&'a BackupBucket, StepOutcome> {
    // Like a worker without a cluster: another worker may have a bucket; the step's timeout
    // bounds the wait, and the message says what to configure.
    cx.resource::<BackupBucket>().map_err(|_| {
        StepOutcome::pending_on(
            Duration::from_secs(30),
            "this worker has no backup bucket: set BACKUP_S3_BUCKET (and BACKUP_S3_ENDPOINT, \
             BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY for an S3-compatible server) \
             and restart the worker",
        )
    })
}

fn sealer(cx: &StepContext<'_>) -> Result<Sealer, StepOutcome> {
    cx.resource::<Sealer>().cloned().map_err(StepOutcome::Fatal)
}

fn storage_error(doing: &str, err: impl std::fmt::Display) -> StepOutcome {
    StepOutcome::retry(format!("{doing}: the backup bucket answered: {err}"))
}

/// Reads `reader` to its end, sealing it into `sink`; returns the summary.
async fn seal_to(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    sink: &mut (impl tokio::io::AsyncWrite + Unpin),
    mut encryptor: Encryptor,
) -> Result<PartSummary, String> {
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let read = reader
            .read(&mut chunk)
            .await
            .map_err(|err| format!("reading the dump: {err}"))?;
        if read == 0 {
            break;
        }
        let sealed = encryptor.push(&chunk[..read]);
        sink.write_all(&sealed)
            .await
            .map_err(|err| format!("spooling: {err}"))?;
    }
    let (sealed, summary) = encryptor.finish();
    sink.write_all(&sealed)
        .await
        .map_err(|err| format!("spooling: {err}"))?;
    sink.flush()
        .await
        .map_err(|err| format!("spooling: {err}"))?;
    Ok(summary)
}

/// Copies `reader` into a multipart upload (the caller completes or aborts it).
async fn upload_from(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    upload: &mut WriteMultipart,
) -> Result<(), String> {
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let read = reader
            .read(&mut chunk)
            .await
            .map_err(|err| format!("reading the spool: {err}"))?;
        if read == 0 {
            return Ok(());
        }
        upload
            .wait_for_capacity(UPLOADS_IN_FLIGHT)
            .await
            .map_err(|err| format!("uploading: {err}"))?;
        upload.write(&chunk[..read]);
    }
}

/// A sealed part on the worker's disk between the exec and the upload; removed when dropped.
/// A worker killed mid-part cannot drop it: its name carries the worker's process id, and
/// the next spool in the same directory removes files whose process is gone (or that are older
/// than any part may take), so killed workers leave no gigabytes behind.
struct Spool {
    path: std::path::PathBuf,
}

const SPOOL_PREFIX: &str = "storeflow-spool-";

impl Spool {
    async fn create(backup: Uuid, part: &str) -> Result<(Spool, tokio::fs::File), String> {
        let dir = std::env::var_os("BACKUP_SPOOL_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        // A part's longest run: its 2 h timeout, and then some.
        crate::scratch::sweep(&dir, SPOOL_PREFIX, Duration::from_secs(3 * 60 * 60));
        let path = crate::scratch::path(
            &dir,
            SPOOL_PREFIX,
            &format!("{backup}-{part}-{}.sfbk", Uuid::new_v4().simple()),
        );
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(|err| format!("creating the spool file {}: {err}", path.display()))?;
        Ok((Spool { path }, file))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The argv that runs `dump` and has `dd` count what it wrote (on stderr, after everything
/// else), and says so on stderr if `dump` fails (`sh` has no pipefail everywhere).
fn counted(dump: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "sh",
        "-c",
        "{ \"$@\" || echo \"storeflow: the dump exited with $?\" >&2; } | dd bs=65536",
        "sh",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    argv.extend(dump.iter().cloned());
    argv
}

/// The byte count `dd` reported last (`N bytes (…) copied`, GNU and busybox alike).
fn counted_bytes(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .rev()
        .find_map(|line| {
            let (number, rest) = line.trim().split_once(' ')?;
            (rest.starts_with("bytes") || rest.starts_with("byte ")).then_some(number)
        })
        .and_then(|number| number.parse().ok())
}

/// Dumps one part of the store through exec into the bucket (`dump-<part>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpBackupPart {
    /// The part, and the dump command that produces it.
    pub part: BackupPart,
}

#[typetag::serde(name = "dump-backup-part")]
#[async_trait::async_trait]
impl storeflow_engine::Step for DumpBackupPart {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        let body = async {
            match self.body(cx).await {
                Ok(outcome) | Err(outcome) => outcome,
            }
        };
        guarded(breakers.map(|b| &b.kubernetes), body).await
    }
}

impl DumpBackupPart {
    /// The exec stream goes to a sealed spool file on the worker as fast as it arrives, then to
    /// the bucket: a real API server resets an exec connection whose reader is still behind
    /// when the command exits (kubectl loses the end too), so the stream is never throttled to
    /// the bucket's pace. `dd` in the pod counts what the command wrote; a part that arrived
    /// short is dumped again instead of being stored.
    async fn body(&self, cx: &StepContext<'_>) -> Result<StepOutcome, StepOutcome> {
        let input = StoreRunInput::read(cx)?;
        let backup = input.backup_id()?;
        let store_id = input.store_id.as_str();
        let bucket = bucket(cx)?;
        let sealer = sealer(cx)?;
        let client = client(cx)?;
        let target = pod_exec::store_target(cx, &self.part.app, &self.part.container)?;
        let (spool, file) = Spool::create(backup, &self.part.name)
            .await
            .map_err(StepOutcome::retry)?;
        let mut file = tokio::io::BufWriter::with_capacity(CHUNK, file);
        let (mut writer, reader) = tokio::io::duplex(4 * CHUNK);
        let dump = async {
            let ended = pod_exec::run_piped(
                client,
                &target,
                &counted(&self.part.dump),
                None::<&[u8]>,
                Some(&mut writer),
                cx.time_left,
            )
            .await;
            // The end of the dump is the end of the part.
            let _ = writer.shutdown().await;
            drop(writer);
            ended
        };
        let encryptor = Encryptor::new(sealer, backup, &self.part.name);
        let (ended, sealed) = tokio::join!(dump, seal_to(reader, &mut file, encryptor));
        let ended = ended?;
        let summary = sealed.map_err(|err| {
            StepOutcome::retry(format!(
                "storing the {} on this worker: {err}",
                self.part.name
            ))
        })?;
        let stderr = ended.stderr.trim();
        if ended.code != 0 || stderr.contains("storeflow: the dump exited") {
            return Err(StepOutcome::retry(format!(
                "dumping the {} failed (exit {}): {}",
                self.part.name,
                ended.code,
                stderr.chars().take(500).collect::<String>()
            )));
        }
        match counted_bytes(stderr) {
            Some(written) if written == summary.size => {}
            Some(written) => {
                return Err(StepOutcome::retry(format!(
                    "the {} arrived short: the command wrote {written} bytes, {} arrived (the \
                     exec connection ended early); dumping it again",
                    self.part.name, summary.size
                )));
            }
            None => {
                return Err(StepOutcome::retry(format!(
                    "the {} cannot be checked: the command's byte count never arrived (the exec \
                     connection ended early); dumping it again",
                    self.part.name
                )));
            }
        }
        let file = file.into_inner();
        drop(file);
        let location = bucket.object(store_id, backup, &self.part.name);
        let upload = bucket
            .store
            .put_multipart(&location)
            .await
            .map_err(|err| storage_error("starting the upload", err))?;
        let mut upload = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART);
        let spooled = tokio::fs::File::open(&spool.path)
            .await
            .map_err(|err| StepOutcome::retry(format!("reading the spool file: {err}")))?;
        if let Err(err) = upload_from(spooled, &mut upload).await {
            // Nothing of an aborted upload becomes an object.
            let _ = upload.abort().await;
            return Err(storage_error(
                &format!("storing the {}", self.part.name),
                err,
            ));
        }
        upload
            .finish()
            .await
            .map_err(|err| storage_error(&format!("completing the {}", self.part.name), err))?;
        drop(spool);
        Ok(StepOutcome::Done(json!({
            "part": self.part.name,
            "object": location.to_string(),
            "size": summary.size,
            "storedSize": summary.stored_size,
            "sha256": summary.sha256,
        })))
    }
}

/// A part as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestPart {
    /// The part's name ([`BackupPart::name`]).
    pub name: String,
    /// The object's full location in the bucket, prefix included.
    pub object: String,
    /// Plaintext bytes; what the restore command is told to read.
    pub size: u64,
    /// Bytes of the sealed object.
    pub stored_size: u64,
    /// SHA-256 of the sealed object, hex; a restore refuses an object that does not match.
    pub sha256: String,
}

/// What a backup holds: written (sealed) beside its parts and kept on its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// The backup's id, also bound into every sealed chunk.
    pub backup_id: Uuid,
    /// The store it was taken of: `id`, `name`, `engine`, `namespace`, `storefrontUrl`.
    pub store: Value,
    /// The store's `chart` and `app` versions when it was taken (null when not recorded).
    pub versions: Value,
    /// When the manifest was written, after every part was stored.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// How the parts are sealed: `algorithm`, `chunkSize` (bytes) and which `key`; never the
    /// key itself.
    pub encryption: Value,
    /// Every part of the backup.
    pub parts: Vec<ManifestPart>,
}

impl Manifest {
    /// The part named `name`; `None` for a part this backup does not have (an engine may
    /// add parts that older backups lack).
    pub fn part(&self, name: &str) -> Option<&ManifestPart> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// Plaintext bytes of all parts.
    pub fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }
}

/// Writes the manifest of the parts dumped by the steps `parts` (step names) and returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteBackupManifest {
    /// Names of the [`DumpBackupPart`] steps, in the order the manifest lists their parts;
    /// one without output fails the step.
    pub parts: Vec<String>,
}

#[typetag::serde(name = "write-backup-manifest")]
#[async_trait::async_trait]
impl storeflow_engine::Step for WriteBackupManifest {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        match self.body(cx).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}

impl WriteBackupManifest {
    async fn body(&self, cx: &StepContext<'_>) -> Result<StepOutcome, StepOutcome> {
        let input = StoreRunInput::read(cx)?;
        let backup = input.backup_id()?;
        let store_id = input.store_id.as_str();
        let bucket = bucket(cx)?;
        let sealer = sealer(cx)?;
        let mut parts = Vec::new();
        for step in &self.parts {
            let output = cx.state.get(step).ok_or_else(|| {
                StepOutcome::fatal(format!("the step `{step}` left no output to list"))
            })?;
            let part: ManifestPart = serde_json::from_value(json!({
                "name": output["part"], "object": output["object"], "size": output["size"],
                "storedSize": output["storedSize"], "sha256": output["sha256"],
            }))
            .map_err(|err| StepOutcome::fatal(format!("the output of `{step}`: {err}")))?;
            parts.push(part);
        }
        let versions: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT chart_version, app_version FROM stores WHERE id = $1")
                .bind(store_id)
                .fetch_optional(cx.pool())
                .await
                .map_err(|err| StepOutcome::retry(format!("reading the store: {err}")))?;
        let (chart, app) = versions.unwrap_or((None, None));
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            backup_id: backup,
            store: json!({
                "id": store_id,
                "name": input.name,
                "engine": input.engine,
                "namespace": input.namespace,
                "storefrontUrl": input.urls.as_ref().map(|urls| &urls.storefront),
            }),
            versions: json!({ "chart": chart, "app": app }),
            created_at: chrono::Utc::now(),
            encryption: json!({ "algorithm": "AES-256-GCM", "chunkSize": CHUNK, "key": "installation" }),
            parts,
        };
        let text = serde_json::to_vec(&manifest)
            .map_err(|err| StepOutcome::fatal(format!("writing the manifest: {err}")))?;
        let mut encryptor = Encryptor::new(sealer, backup, "manifest");
        let mut sealed = encryptor.push(&text);
        sealed.extend(encryptor.finish().0);
        bucket
            .store
            .put(&bucket.object(store_id, backup, "manifest"), sealed.into())
            .await
            .map_err(|err| storage_error("storing the manifest", err))?;
        Ok(StepOutcome::Done(json!({ "manifest": manifest })))
    }
}

/// Reads the manifest of the backup to restore (`restore_backup_id` in the run input) and
/// every part it lists through: each must hash to the manifest's SHA-256 and open chunk by
/// chunk. Refuses (for good) a backup that does not.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyBackup {}

#[typetag::serde(name = "verify-backup")]
#[async_trait::async_trait]
impl storeflow_engine::Step for VerifyBackup {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        match verify_backup(cx).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}

/// The manifest of `backup` as its row keeps it, and the store it was taken of.
async fn stored_manifest(
    cx: &StepContext<'_>,
    backup: Uuid,
) -> Result<(Manifest, String), StepOutcome> {
    let row: Option<(String, Option<Value>, String)> =
        sqlx::query_as("SELECT store_id, manifest, status FROM store_backups WHERE id = $1")
            .bind(backup)
            .fetch_optional(cx.pool())
            .await
            .map_err(|err| StepOutcome::retry(format!("reading backup {backup}: {err}")))?;
    let Some((store_id, Some(manifest), status)) = row else {
        return Err(StepOutcome::fatal(format!(
            "backup {backup} does not exist or has no manifest; choose a complete backup"
        )));
    };
    if status != "complete" {
        return Err(StepOutcome::fatal(format!(
            "backup {backup} is {status}, not complete; choose a complete backup"
        )));
    }
    let manifest = serde_json::from_value(manifest)
        .map_err(|err| StepOutcome::fatal(format!("backup {backup}'s manifest: {err}")))?;
    Ok((manifest, store_id))
}

/// Streams one stored part through `decryptor`, handing plaintext chunks to `sink`.
async fn read_part<F, Fut>(
    bucket: &BackupBucket,
    part: &ManifestPart,
    mut decryptor: Decryptor,
    mut sink: F,
) -> Result<PartSummary, StepOutcome>
where
    F: FnMut(Bytes) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let location = ObjectPath::from(part.object.as_str());
    let got = bucket.store.get(&location).await.map_err(|err| match err {
        object_store::Error::NotFound { .. } => StepOutcome::fatal(format!(
            "the {} of this backup is missing from the bucket ({}); the backup cannot be restored",
            part.name, part.object
        )),
        err => storage_error(&format!("reading the {}", part.name), err),
    })?;
    let mut stream = got.into_stream();
    let corrupt = |err: CorruptPart| {
        StepOutcome::fatal(format!(
            "the {} of this backup is corrupt: {err}; restore another backup",
            part.name
        ))
    };
    while let Some(bytes) = stream.next().await {
        let bytes =
            bytes.map_err(|err| storage_error(&format!("reading the {}", part.name), err))?;
        for plain in decryptor.push(&bytes).map_err(corrupt)? {
            sink(plain)
                .await
                .map_err(|err| StepOutcome::retry(format!("restoring the {}: {err}", part.name)))?;
        }
    }
    decryptor.finish().map_err(corrupt)
}

async fn verify_backup(cx: &StepContext<'_>) -> Result<StepOutcome, StepOutcome> {
    let backup = StoreRunInput::read(cx)?.restore_backup_id()?;
    let bucket = bucket(cx)?;
    let sealer = sealer(cx)?;
    let (manifest, _) = stored_manifest(cx, backup).await?;
    for part in &manifest.parts {
        let read = read_part(
            bucket,
            part,
            Decryptor::new(sealer.clone(), backup, &part.name),
            |_| async { Ok(()) },
        )
        .await?;
        if read.sha256 != part.sha256 || read.stored_size != part.stored_size {
            return Err(StepOutcome::fatal(format!(
                "the {} of backup {backup} does not match its checksum (SHA-256 {} of {} bytes, \
                 the manifest says {} of {} bytes): the object was changed or damaged in the \
                 bucket; restore another backup",
                part.name, read.sha256, read.stored_size, part.sha256, part.stored_size
            )));
        }
    }
    Ok(StepOutcome::Done(json!({ "manifest": manifest })))
}

/// Restores one part of the backup (`restore_backup_id`) into the store through exec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreBackupPart {
    /// The part, and the restore command that applies it; a part the backup lacks is skipped.
    pub part: BackupPart,
}

#[typetag::serde(name = "restore-backup-part")]
#[async_trait::async_trait]
impl storeflow_engine::Step for RestoreBackupPart {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        let breakers = cx.resource::<Breakers>().ok();
        let body = async {
            match self.body(cx).await {
                Ok(outcome) | Err(outcome) => outcome,
            }
        };
        guarded(breakers.map(|b| &b.kubernetes), body).await
    }
}

impl RestoreBackupPart {
    async fn body(&self, cx: &StepContext<'_>) -> Result<StepOutcome, StepOutcome> {
        let backup = StoreRunInput::read(cx)?.restore_backup_id()?;
        let bucket = bucket(cx)?;
        let sealer = sealer(cx)?;
        let (manifest, _) = stored_manifest(cx, backup).await?;
        let Some(part) = manifest.part(&self.part.name).cloned() else {
            // An engine's newer definition may restore a part older backups do not have.
            return Ok(StepOutcome::Done(
                json!({ "part": self.part.name, "restored": false, "reason": "not in this backup" }),
            ));
        };
        let client = client(cx)?;
        let target = pod_exec::store_target(cx, &self.part.app, &self.part.container)?;
        let mut argv = self.part.restore.clone();
        argv.push(part.size.to_string());
        let (writer, reader) = tokio::io::duplex(CHUNK);
        let writer = tokio::sync::Mutex::new(writer);
        let feed = async {
            let read = read_part(
                bucket,
                &part,
                Decryptor::new(sealer, backup, &part.name),
                |plain| {
                    let writer = &writer;
                    async move {
                        writer
                            .lock()
                            .await
                            .write_all(&plain)
                            .await
                            .map_err(|err| format!("the command stopped reading: {err}"))
                    }
                },
            )
            .await;
            let _ = writer.lock().await.shutdown().await;
            read
        };
        let apply = pod_exec::run_piped(
            client,
            &target,
            &argv,
            Some(reader),
            None::<&mut tokio::io::Sink>,
            cx.time_left,
        );
        let (read, ended) = tokio::join!(feed, apply);
        let ended = ended?;
        if ended.code != 0 {
            return Err(StepOutcome::retry(format!(
                "restoring the {} exited with {}: {}",
                part.name,
                ended.code,
                ended.stderr.trim().chars().take(500).collect::<String>()
            )));
        }
        let read = read?;
        Ok(StepOutcome::Done(json!({
            "part": part.name,
            "restored": true,
            "size": read.size,
        })))
    }
}

// ---------------------------------------------------------------------------------------
// Backup records: starting backups, finishing them, failing them, pruning them

/// The store a backup is taken of, as its row and latest run know it.
#[derive(Debug, Clone)]
pub struct BackupSubject<'a> {
    /// The store's id.
    pub store_id: &'a str,
    /// The store's owner: the backup run's tenant.
    pub owner_id: Uuid,
    /// The store's name, kept on the backup row.
    pub name: &'a str,
    /// The store's engine; it decides the backup workflow.
    pub engine: &'a str,
    /// The run input of the store's runs (no secrets); the backup run gets it with its id.
    pub input: &'a StoreRunInput,
}

/// A backup just started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartedBackup {
    /// The new backup's id (a UUIDv7, so ids sort by start time).
    pub backup_id: Uuid,
    /// The run that takes it.
    pub run_id: Uuid,
}

/// Records a backup of `store` as running and enqueues its run, in the caller's
/// transaction (the API's for a manual backup, the schedule's checkpoint for a scheduled
/// one): both exist, or neither. `trigger` is `manual` or `scheduled`.
pub async fn start_backup(
    conn: &mut sqlx::PgConnection,
    engine: &storeflow_engine::Engine,
    store: &BackupSubject<'_>,
    trigger: &str,
    requested_by: Option<Uuid>,
    request_id: Option<&str>,
) -> Result<StartedBackup, String> {
    let workflow = crate::engines::find(store.engine)
        .and_then(|e| e.backup_workflow())
        .ok_or_else(|| format!("stores of engine `{}` cannot be backed up", store.engine))?;
    let backup_id = Uuid::now_v7();
    let input = StoreRunInput {
        backup_id: Some(backup_id),
        ..store.input.clone()
    };
    let mut run = storeflow_engine::NewRun::new(workflow, input.to_value())
        // The backup, not the store, is the run's subject: the store's lifecycle (its
        // status, its current run) is not the backup's business.
        .subject(backup_id.to_string())
        .tenant(store.owner_id.to_string());
    if let Some(request_id) = request_id {
        run = run.request_id(request_id.to_owned());
    }
    let run = engine
        .enqueue(&mut *conn, run)
        .await
        .map_err(|err| format!("enqueuing the backup: {err}"))?;
    sqlx::query(
        "INSERT INTO store_backups (id, store_id, owner_id, store_name, engine, trigger, run_id, requested_by) \
         VALUES ($1, $2, $3, $4, $5::store_engine, $6, $7, $8)",
    )
    .bind(backup_id)
    .bind(store.store_id)
    .bind(store.owner_id)
    .bind(store.name)
    .bind(store.engine)
    .bind(trigger)
    .bind(run.run_id)
    .bind(requested_by)
    .execute(&mut *conn)
    .await
    .map_err(|err| format!("recording the backup: {err}"))?;
    Ok(StartedBackup {
        backup_id,
        run_id: run.run_id,
    })
}

/// Marks the backup complete with the manifest the step `manifest_from` wrote; from then on
/// it is listed as restorable. In the checkpoint transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinishBackup {
    /// The name of the [`WriteBackupManifest`] step.
    pub manifest_from: String,
}

#[typetag::serde(name = "finish-backup")]
#[async_trait::async_trait]
impl storeflow_engine::Step for FinishBackup {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.finish(cx).await)
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

impl FinishBackup {
    async fn finish(&self, cx: &mut StepContext<'_>) -> StepResult {
        let backup = StoreRunInput::read(cx)?.backup_id()?;
        let manifest = cx
            .state
            .get(&self.manifest_from)
            .map(|o| o["manifest"].clone());
        let Some(manifest) = manifest.filter(|m| m.is_object()) else {
            return Err(StepOutcome::fatal(format!(
                "the step `{}` left no manifest",
                self.manifest_from
            )));
        };
        let parsed: Manifest = serde_json::from_value(manifest.clone()).or_fatal("the manifest")?;
        let stored: u64 = parsed.parts.iter().map(|p| p.stored_size).sum();
        let conn = cx.transaction().map_err(StepOutcome::Fatal)?;
        let done = sqlx::query(
            "UPDATE store_backups SET status = 'complete', manifest = $2, size_bytes = $3, \
                    stored_bytes = $4, completed_at = now(), error = NULL \
             WHERE id = $1 AND status = 'running'",
        )
        .bind(backup)
        .bind(&manifest)
        .bind(parsed.size() as i64)
        .bind(stored as i64)
        .execute(&mut *conn)
        .await
        .or_retry("marking the backup complete")?;
        if done.rows_affected() != 1 {
            return Err(StepOutcome::fatal(format!(
                "backup {backup} is no longer running (it was deleted or marked failed)"
            )));
        }
        Ok(json!({ "size": parsed.size(), "storedSize": stored }))
    }
}

/// On failure of a backup run: deletes what it stored and marks it failed with the reason.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FailBackup {}

#[typetag::serde(name = "fail-backup")]
#[async_trait::async_trait]
impl storeflow_engine::Step for FailBackup {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(fail_backup(cx).await)
    }
}

async fn fail_backup(cx: &mut StepContext<'_>) -> StepResult {
    let input = StoreRunInput::read(cx)?;
    let backup = input.backup_id()?;
    let store_id = input.store_id;
    let deleted = bucket(cx)?
        .delete_backup(&store_id, backup)
        .await
        .map_err(|err| storage_error("deleting the failed backup's objects", err))?;
    let reason = cx
        .failure()
        .map(|f| format!("{}: {}", f.step, f.error))
        .unwrap_or_else(|| "the backup failed".into());
    sqlx::query(
        "UPDATE store_backups SET status = 'failed', error = $2, completed_at = now() \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(backup)
    .bind(&reason)
    .execute(cx.pool())
    .await
    .or_retry("marking the backup failed")?;
    Ok(json!({ "deletedObjects": deleted }))
}

#[derive(Debug, sqlx::FromRow)]
struct PrunableBackup {
    id: Uuid,
    store_id: String,
    created_at: chrono::DateTime<chrono::Utc>,
    keep_daily: i32,
    keep_weekly: i32,
}

/// What pruning removed.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    /// The backups whose objects and rows were deleted.
    pub backups: Vec<Uuid>,
    /// Objects deleted from the bucket.
    pub objects: usize,
}

/// Applies retention to the scheduled backups of `store_id` (every store's when `None`), and
/// removes failed backups older than a day: objects first, then the rows, so a crash in
/// between leaves a row whose objects are gone (pruned again next time), never objects
/// nothing lists. Manual backups stay until someone deletes them.
pub async fn prune(
    pool: &sqlx::PgPool,
    bucket: &BackupBucket,
    store_id: Option<&str>,
) -> Result<Pruned, String> {
    let rows: Vec<PrunableBackup> = sqlx::query_as(
        "SELECT b.id, b.store_id, b.created_at, \
                coalesce(s.backup_keep_daily, 7) AS keep_daily, coalesce(s.backup_keep_weekly, 4) AS keep_weekly \
         FROM store_backups b LEFT JOIN stores s ON s.id = b.store_id \
         WHERE b.status = 'complete' AND b.trigger = 'scheduled' AND ($1::text IS NULL OR b.store_id = $1)",
    )
    .bind(store_id)
    .fetch_all(pool)
    .await
    .map_err(|err| format!("listing backups: {err}"))?;
    let mut by_store: std::collections::BTreeMap<&str, Vec<&PrunableBackup>> = Default::default();
    for row in &rows {
        by_store.entry(&row.store_id).or_default().push(row);
    }
    let mut doomed: Vec<(String, Uuid)> = Vec::new();
    for (store, backups) in by_store {
        let kept: Vec<Kept> = backups
            .iter()
            .map(|b| Kept {
                id: b.id,
                at: b.created_at,
            })
            .collect();
        let policy = backups[0];
        let keep = retained(
            &kept,
            policy.keep_daily.max(0) as u32,
            policy.keep_weekly.max(0) as u32,
        );
        doomed.extend(
            backups
                .iter()
                .filter(|b| !keep.contains(&b.id))
                .map(|b| (store.to_owned(), b.id)),
        );
    }
    let failed: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT store_id, id FROM store_backups \
         WHERE status = 'failed' AND completed_at < now() - interval '1 day' \
           AND ($1::text IS NULL OR store_id = $1)",
    )
    .bind(store_id)
    .fetch_all(pool)
    .await
    .map_err(|err| format!("listing failed backups: {err}"))?;
    doomed.extend(failed);
    let mut pruned = Pruned::default();
    for (store, backup) in doomed {
        pruned.objects += bucket.delete_backup(&store, backup).await?;
        sqlx::query("DELETE FROM store_backups WHERE id = $1")
            .bind(backup)
            .execute(pool)
            .await
            .map_err(|err| format!("deleting backup {backup}: {err}"))?;
        pruned.backups.push(backup);
    }
    Ok(pruned)
}

/// Prunes backups by their retention: the store's of the run input (`store_id`) after a
/// backup, or every store's (`all`) in the schedule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PruneBackups {
    /// Every store's backups (the schedule; a worker without a bucket skips the step) rather
    /// than the run input's store.
    #[serde(default)]
    pub all: bool,
}

#[typetag::serde(name = "prune-backups")]
#[async_trait::async_trait]
impl storeflow_engine::Step for PruneBackups {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.prune(cx).await)
    }
}

impl PruneBackups {
    async fn prune(&self, cx: &mut StepContext<'_>) -> StepResult {
        let bucket = match (bucket(cx), self.all) {
            (Ok(bucket), _) => bucket,
            // The schedule runs on every installation; without a bucket there is nothing
            // storeflow could have stored.
            (Err(_), true) => {
                return Ok(
                    json!({ "skipped": "this worker has no backup bucket (BACKUP_S3_BUCKET)" }),
                );
            }
            (Err(outcome), false) => return Err(outcome),
        };
        let store = if self.all {
            None
        } else {
            Some(StoreRunInput::read(cx)?.store_id)
        };
        let pruned = prune(cx.pool(), bucket, store.as_deref())
            .await
            .or_retry("pruning backups")?;
        Ok(json!(pruned))
    }
}

#[derive(Debug, sqlx::FromRow)]
struct DueStore {
    id: String,
    owner_id: Uuid,
    name: String,
    engine: String,
    backup_schedule: String,
    input: Option<Value>,
    /// A backup of the store is still running: this time is skipped (never two at once).
    busy: bool,
}

/// The schedule's step: starts the backups that are due (stores `ready` whose
/// `backup_next_at` has passed) and moves each store's next time on by its cron schedule, in
/// the checkpoint transaction (a crash starts each backup once or not at all).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartDueBackups {
    /// At most this many stores per run; the others stay due for the next one.
    pub limit: i64,
}

#[typetag::serde(name = "start-due-backups")]
#[async_trait::async_trait]
impl storeflow_engine::Step for StartDueBackups {
    async fn run(&self, cx: &mut StepContext<'_>) -> StepOutcome {
        StepOutcome::of(self.start_due(cx).await)
    }

    fn runs_in_checkpoint(&self) -> bool {
        true
    }
}

impl StartDueBackups {
    async fn start_due(&self, cx: &mut StepContext<'_>) -> StepResult {
        let engine = cx
            .resource::<storeflow_engine::Engine>()
            .map_err(StepOutcome::Fatal)?
            .clone();
        let request_id = cx.request_id.map(str::to_owned);
        let conn = cx.transaction().map_err(StepOutcome::Fatal)?;
        let due: Vec<DueStore> = sqlx::query_as(
            "SELECT s.id, s.owner_id, s.name, s.engine::text AS engine, s.backup_schedule, r.input, \
                    EXISTS (SELECT 1 FROM store_backups b \
                            JOIN LATERAL workflow_run_summary(b.run_id) br ON NOT br.finished \
                            WHERE b.store_id = s.id AND b.status = 'running') AS busy \
             FROM stores s LEFT JOIN LATERAL workflow_run_summary(s.current_run_id) r ON true \
             WHERE s.backup_schedule IS NOT NULL AND s.backup_next_at <= now() AND s.status = 'ready' \
             ORDER BY s.backup_next_at LIMIT $1 FOR UPDATE OF s SKIP LOCKED",
        )
        .bind(self.limit)
        .fetch_all(&mut *conn)
        .await
        .or_retry("listing stores due a backup")?;
        let (mut started, mut passed_over) = (Vec::new(), Vec::new());
        for store in due {
            let next = storeflow_engine::parse_cron(&store.backup_schedule)
                .ok()
                .and_then(|schedule| schedule.upcoming(chrono::Utc).next());
            // The store's latest run input is what its backup runs carry; a store without one
            // the API wrote (never expected) is passed over and said so.
            let input = store
                .input
                .as_ref()
                .and_then(|input| StoreRunInput::deserialize(input).ok());
            if input.is_none() {
                passed_over.push(
                    json!({ "store": store.id, "reason": "its latest run has no store input" }),
                );
            }
            if let Some(input) = input.as_ref().filter(|_| !store.busy) {
                let subject = BackupSubject {
                    store_id: &store.id,
                    owner_id: store.owner_id,
                    name: &store.name,
                    engine: &store.engine,
                    input,
                };
                let backup = start_backup(
                    &mut *conn,
                    &engine,
                    &subject,
                    "scheduled",
                    None,
                    request_id.as_deref(),
                )
                .await
                .or_retry(&format!("store {}", store.id))?;
                started.push(json!({ "store": store.id, "backupId": backup.backup_id }));
            }
            sqlx::query("UPDATE stores SET backup_next_at = $2 WHERE id = $1")
                .bind(&store.id)
                .bind(next)
                .execute(&mut *conn)
                .await
                .or_retry(&format!("scheduling the next backup of {}", store.id))?;
        }
        if passed_over.is_empty() {
            Ok(json!({ "started": started }))
        } else {
            Ok(json!({ "started": started, "passedOver": passed_over }))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Retention

/// A complete scheduled backup, for retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// The backup's id.
    pub id: Uuid,
    /// When it was taken; days and weeks are counted in UTC.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The backups a policy keeps: the newest of each of the last `daily` days that have one,
/// and the newest of each of the last `weekly` ISO weeks that have one (UTC). The newest
/// backup is always kept.
pub fn retained(backups: &[Kept], daily: u32, weekly: u32) -> Vec<Uuid> {
    use chrono::Datelike;
    let mut newest_first: Vec<Kept> = backups.to_vec();
    newest_first.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    let mut keep: Vec<Uuid> = Vec::new();
    let mut days = Vec::new();
    let mut weeks = Vec::new();
    for backup in &newest_first {
        let day = backup.at.date_naive();
        let week = backup.at.iso_week();
        let week = (week.year(), week.week());
        if !days.contains(&day) && days.len() < daily as usize {
            days.push(day);
            keep.push(backup.id);
        }
        if !weeks.contains(&week) && weeks.len() < weekly as usize {
            weeks.push(week);
            if !keep.contains(&backup.id) {
                keep.push(backup.id);
            }
        }
    }
    if let Some(newest) = newest_first.first()
        && !keep.contains(&newest.id)
    {
        keep.push(newest.id);
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sealed(sealer: &Sealer, backup: Uuid, part: &str, data: &[u8], pieces: usize) -> Vec<u8> {
        let mut encryptor = Encryptor::new(sealer.clone(), backup, part);
        let mut out = Vec::new();
        for piece in data.chunks(data.len().div_ceil(pieces).max(1)) {
            out.extend(encryptor.push(piece));
        }
        let (rest, summary) = encryptor.finish();
        out.extend(rest);
        assert_eq!(summary.size, data.len() as u64);
        assert_eq!(summary.stored_size, out.len() as u64);
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(&out)));
        out
    }

    fn opened(
        sealer: &Sealer,
        backup: Uuid,
        part: &str,
        stored: &[u8],
        pieces: usize,
    ) -> Result<Vec<u8>, CorruptPart> {
        let mut decryptor = Decryptor::new(sealer.clone(), backup, part);
        let mut plain = Vec::new();
        for piece in stored.chunks(stored.len().div_ceil(pieces).max(1)) {
            for chunk in decryptor.push(piece)? {
                plain.extend_from_slice(&chunk);
            }
        }
        let summary = decryptor.finish()?;
        assert_eq!(summary.size, plain.len() as u64);
        Ok(plain)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn parts_round_trip_whatever_the_pieces_and_sizes() {
        let sealer = Sealer::random();
        let backup = Uuid::new_v4();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain = data(len);
            for (seal_pieces, open_pieces) in [(1, 1), (7, 3), (64, 1000)] {
                let stored = sealed(&sealer, backup, "database", &plain, seal_pieces);
                assert!(stored.starts_with(MAGIC));
                assert_eq!(
                    opened(&sealer, backup, "database", &stored, open_pieces).expect("opens"),
                    plain,
                    "{len} bytes in {seal_pieces}/{open_pieces} pieces"
                );
            }
        }
    }

    #[test]
    fn stored_bytes_do_not_show_the_plaintext() {
        let sealer = Sealer::random();
        let plain = b"INSERT INTO wp_users VALUES ('admin', 's3cret-hash');".repeat(100);
        let stored = sealed(&sealer, Uuid::new_v4(), "database", &plain, 3);
        assert!(!stored.windows(11).any(|w| w == b"s3cret-hash"));
    }

    #[test]
    fn damage_truncation_reordering_and_the_wrong_backup_are_refused() {
        let sealer = Sealer::random();
        let backup = Uuid::new_v4();
        let plain = data(3 * CHUNK + 100);
        let stored = sealed(&sealer, backup, "uploads", &plain, 5);

        let mut flipped = stored.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x40;
        assert!(matches!(
            opened(&sealer, backup, "uploads", &flipped, 4),
            Err(CorruptPart::CannotOpen(_) | CorruptPart::BadLength(..))
        ));

        // Cut after the first chunk: every chunk opens, but the last one never came.
        let first = MAGIC.len() + 4 + CHUNK + SEAL_OVERHEAD;
        assert_eq!(
            opened(&sealer, backup, "uploads", &stored[..first], 1),
            Err(CorruptPart::Truncated)
        );
        assert_eq!(
            opened(&sealer, backup, "uploads", &stored[..stored.len() - 1], 1),
            Err(CorruptPart::Truncated)
        );
        let mut longer = stored.clone();
        longer.extend_from_slice(&stored[MAGIC.len()..first]);
        assert_eq!(
            opened(&sealer, backup, "uploads", &longer, 1),
            Err(CorruptPart::TrailingData)
        );

        // The second chunk dropped: the third does not open as the second.
        let mut skipped = stored[..first].to_vec();
        skipped.extend_from_slice(&stored[first + 4 + CHUNK + SEAL_OVERHEAD..]);
        assert_eq!(
            opened(&sealer, backup, "uploads", &skipped, 1),
            Err(CorruptPart::CannotOpen(1))
        );

        assert_eq!(
            opened(&sealer, Uuid::new_v4(), "uploads", &stored, 1),
            Err(CorruptPart::CannotOpen(0)),
            "bound to its backup"
        );
        assert_eq!(
            opened(&sealer, backup, "database", &stored, 1),
            Err(CorruptPart::CannotOpen(0)),
            "bound to its part"
        );
        assert_eq!(
            opened(&Sealer::random(), backup, "uploads", &stored, 1),
            Err(CorruptPart::CannotOpen(0)),
            "bound to the installation's key"
        );
        assert_eq!(
            opened(&sealer, backup, "uploads", b"PK\x03\x04 not ours", 1),
            Err(CorruptPart::NotABackup)
        );
    }

    #[tokio::test]
    async fn a_part_streams_into_a_bucket_and_back() {
        let memory = Arc::new(object_store::memory::InMemory::new());
        let bucket = BackupBucket::over(memory, "/storeflow/");
        let sealer = Sealer::random();
        let backup = Uuid::new_v4();
        let location = bucket.object("0000c0de", backup, "uploads");
        assert_eq!(
            location.to_string(),
            format!("storeflow/stores/0000c0de/{backup}/uploads.sfbk")
        );
        let plain = data(20 * CHUNK + 5);
        let mut sealed = Vec::new();
        let summary = seal_to(
            plain.as_slice(),
            &mut sealed,
            Encryptor::new(sealer.clone(), backup, "uploads"),
        )
        .await
        .expect("sealed");
        let upload = bucket.store.put_multipart(&location).await.expect("upload");
        let mut upload = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART);
        upload_from(sealed.as_slice(), &mut upload)
            .await
            .expect("uploaded");
        assert!(
            bucket
                .list_backup("0000c0de", backup)
                .await
                .expect("list")
                .is_empty(),
            "nothing is an object before the upload completes"
        );
        upload.finish().await.expect("completed");
        let part = ManifestPart {
            name: "uploads".into(),
            object: location.to_string(),
            size: summary.size,
            stored_size: summary.stored_size,
            sha256: summary.sha256.clone(),
        };
        let restored = tokio::sync::Mutex::new(Vec::new());
        let read = read_part(
            &bucket,
            &part,
            Decryptor::new(sealer, backup, "uploads"),
            |chunk| {
                let restored = &restored;
                async move {
                    restored.lock().await.extend_from_slice(&chunk);
                    Ok(())
                }
            },
        )
        .await
        .expect("read back");
        assert_eq!(read, summary);
        assert!(restored.into_inner() == plain);
        assert_eq!(bucket.delete_backup("0000c0de", backup).await, Ok(1));
        assert_eq!(
            bucket.probe().await,
            Ok(()),
            "the probe cleans up after itself"
        );
        assert!(
            bucket
                .list_backup("0000c0de", backup)
                .await
                .expect("list")
                .is_empty()
        );
    }

    #[test]
    fn dd_byte_counts_are_read_from_gnu_and_busybox() {
        let gnu = "12+1 records in\n12+1 records out\n50339840 bytes (50 MB, 48 MiB) copied, 0.1 s, 500 MB/s\n";
        assert_eq!(counted_bytes(gnu), Some(50_339_840));
        let busybox = "768+1 records in\n768+1 records out\n50339840 bytes (48.0MB) copied, 0.2 seconds, 240MB/s";
        assert_eq!(counted_bytes(busybox), Some(50_339_840));
        assert_eq!(
            counted_bytes("0+0 records in\n0+0 records out\n0 bytes copied, 0 s, 0 B/s"),
            Some(0)
        );
        assert_eq!(counted_bytes("1 byte copied, 0.0001 s"), Some(1));
        assert_eq!(counted_bytes("mariadb-dump: Got error: 1045"), None);
        let argv = counted(&["tar".into(), "-cf".into(), "-".into(), "my dir".into()]);
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(
            argv[3..],
            ["sh", "tar", "-cf", "-", "my dir"],
            "the dump's argv is passed as is"
        );
    }

    #[test]
    fn retention_keeps_the_newest_of_each_day_and_week() {
        let at = |day: u32, hour: u32| {
            chrono::Utc
                .with_ymd_and_hms(2026, 11, day, hour, 0, 0)
                .unwrap()
        };
        // Two backups a day over 30 days of November 2026.
        let mut backups = Vec::new();
        for day in 1..=30 {
            for hour in [3, 15] {
                backups.push(Kept {
                    id: Uuid::from_u128(u128::from(day * 100 + hour)),
                    at: at(day, hour),
                });
            }
        }
        let keep = retained(&backups, 7, 4);
        let id = |day: u32, hour: u32| Uuid::from_u128(u128::from(day * 100 + hour));
        // The last 7 days' afternoon backups.
        for day in 24..=30 {
            assert!(keep.contains(&id(day, 15)), "day {day}");
            assert!(!keep.contains(&id(day, 3)), "only the newest of day {day}");
        }
        // Weeks (ISO, Monday first): Nov 30 is a Monday; the 3 weeks before end on the
        // Sundays 29, 22 and 15.
        for day in [22, 15] {
            assert!(keep.contains(&id(day, 15)), "week ending {day}");
        }
        assert_eq!(keep.len(), 7 + 2, "29 counts for its day and its week");
        assert!(!keep.contains(&id(8, 15)));
        // Nothing retained: the newest still is.
        assert_eq!(retained(&backups, 0, 0), vec![id(30, 15)]);
        assert!(retained(&[], 7, 4).is_empty());
    }
}
