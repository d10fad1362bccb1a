//! `storeflow doctor`: checks what provisioning needs and says how to fix what is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use storeflow_executors::cluster::{ConfigSource, probe};

use storeflow::config;

pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) ok: bool,
    pub(crate) detail: String,
    pub(crate) fix: Option<String>,
}

pub(crate) fn on_path(binary: &str) -> Option<PathBuf> {
    if binary.contains('/') {
        let path = PathBuf::from(binary);
        return path.is_file().then_some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|candidate| candidate.is_file())
    })
}

/// Asks the API server whether this identity may do what provisioning does (only when the
/// cluster answered: otherwise the kubernetes check already says what is wrong).
async fn permissions_check() -> Check {
    use storeflow_executors::cluster;
    let failed = |detail: String| Check {
        name: "permissions",
        ok: false,
        detail,
        fix: Some(
            "grant them to storeflow's identity: the ClusterRoles in \
             charts/storeflow/templates/rbac.yaml list what the workers need"
                .into(),
        ),
    };
    let client = match cluster::load(cluster::ConfigSource::Infer)
        .await
        .and_then(|loaded| kube::Client::try_from(loaded.config).map_err(|err| err.to_string()))
    {
        Ok(client) => client,
        Err(err) => return failed(err),
    };
    let wanted = cluster::required_access(std::env::var("HELM_DRIVER").ok().as_deref());
    match cluster::missing_access(&client, &wanted).await {
        Ok(missing) if missing.is_empty() => Check {
            name: "permissions",
            ok: true,
            detail: format!(
                "all {} API operations of provisioning and teardown are allowed",
                wanted.len()
            ),
            fix: None,
        },
        Ok(missing) => failed(format!(
            "not allowed: {}",
            missing
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(err) => failed(err),
    }
}

pub(crate) async fn helm_check(helm_bin: &str) -> Check {
    let Some(path) = on_path(helm_bin) else {
        return Check {
            name: "helm",
            ok: false,
            detail: format!("`{helm_bin}` not found"),
            fix: Some("install Helm 3 and put it on PATH, or set HELM_BIN to its path".into()),
        };
    };
    match tokio::process::Command::new(&path)
        .args(["version", "--short"])
        .output()
        .await
    {
        Ok(output) if output.status.success() => Check {
            name: "helm",
            ok: true,
            detail: format!(
                "{} ({})",
                path.display(),
                String::from_utf8_lossy(&output.stdout).trim()
            ),
            fix: None,
        },
        Ok(output) => Check {
            name: "helm",
            ok: false,
            detail: format!(
                "{} failed: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            fix: Some("check that HELM_BIN points at a working Helm 3 binary".into()),
        },
        Err(err) => Check {
            name: "helm",
            ok: false,
            detail: format!("cannot run {}: {err}", path.display()),
            fix: Some("check the permissions of HELM_BIN".into()),
        },
    }
}

fn chart_check(chart: &Path) -> Check {
    if chart.join("Chart.yaml").is_file() {
        Check {
            name: "chart",
            ok: true,
            detail: chart.display().to_string(),
            fix: None,
        }
    } else {
        Check {
            name: "chart",
            ok: false,
            detail: format!("no Chart.yaml in {}", chart.display()),
            fix: Some("set HELM_CHART_PATH to the ecommerce-store chart directory (charts/ecommerce-store in the repository)".into()),
        }
    }
}

/// The backup bucket, when one is configured: a small object written, read back and deleted.
async fn backups_check() -> Check {
    use storeflow_executors::backup::{BackupBucket, BucketSettings};
    let fix = "check BACKUP_S3_BUCKET, BACKUP_S3_ENDPOINT, BACKUP_S3_REGION and the credentials \
               (BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY): the workers need to write, \
               read, list and delete objects under BACKUP_S3_PREFIX";
    let settings = match BucketSettings::from_env() {
        Ok(Some(settings)) => settings,
        Ok(None) => {
            return Check {
                name: "backups",
                ok: true,
                detail: "off (BACKUP_S3_BUCKET is not set; backup requests are refused)".into(),
                fix: None,
            };
        }
        Err(err) => {
            return Check {
                name: "backups",
                ok: false,
                detail: err,
                fix: Some(fix.into()),
            };
        }
    };
    let probed = match BackupBucket::connect(&settings) {
        Ok(bucket) => bucket.probe().await.map(|()| bucket),
        Err(err) => Err(err),
    };
    match probed {
        Ok(bucket) => Check {
            name: "backups",
            ok: true,
            detail: format!("{bucket:?}: writable (prefix {})", settings.prefix),
            fix: None,
        },
        Err(err) => Check {
            name: "backups",
            ok: false,
            detail: err,
            fix: Some(fix.into()),
        },
    }
}

/// Runs every check, prints them, and fails when any failed.
pub async fn run(database_url: Option<&str>) -> anyhow::Result<()> {
    let mut checks = Vec::new();
    match config::connect(database_url, 1).await {
        Ok(pool) => {
            let applied: Result<(i64,), _> =
                sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&pool)
                    .await;
            let expected = storeflow_engine::MIGRATOR.iter().count() as i64;
            match applied {
                Ok((n,)) if n >= expected => checks.push(Check {
                    name: "database",
                    ok: true,
                    detail: format!("reachable, schema up to date ({n} migrations)"),
                    fix: None,
                }),
                _ => checks.push(Check {
                    name: "database",
                    ok: false,
                    detail: "reachable, but the schema is not up to date".into(),
                    fix: Some("run `storeflow migrate`".into()),
                }),
            }
        }
        Err(err) => checks.push(Check {
            name: "database",
            ok: false,
            detail: format!("{err:#}"),
            fix: Some("set DATABASE_URL to a reachable PostgreSQL server".into()),
        }),
    }
    let cluster = probe(ConfigSource::Infer, Duration::from_secs(5)).await;
    checks.push(Check {
        name: "kubernetes",
        ok: cluster.reachable,
        detail: match (&cluster.source, &cluster.server) {
            (Some(source), Some(server)) => format!("{} ({source}, {server})", cluster.message),
            (None, Some(server)) => format!("{} ({server})", cluster.message),
            _ => cluster.message.clone(),
        },
        fix: (!cluster.reachable).then(|| {
            if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
                "in a pod: check the service account's token mount and that the API server is \
                 reachable from this namespace (NetworkPolicy)"
                    .into()
            } else {
                "point KUBECONFIG at a reachable cluster (stores are provisioned into its current \
                 context), or run storeflow in the cluster"
                    .into()
            }
        }),
    });
    if cluster.reachable {
        checks.push(permissions_check().await);
    }
    let helm_bin = std::env::var("HELM_BIN").unwrap_or_else(|_| "helm".into());
    checks.push(helm_check(&helm_bin).await);
    let chart =
        std::env::var("HELM_CHART_PATH").unwrap_or_else(|_| "charts/ecommerce-store".into());
    checks.push(chart_check(Path::new(&chart)));
    checks.push(backups_check().await);

    let mut failed = 0;
    for check in &checks {
        println!(
            "{} {:<11} {}",
            if check.ok { "ok  " } else { "FAIL" },
            check.name,
            check.detail
        );
        if let Some(fix) = &check.fix {
            println!("     {:<11} fix: {fix}", "");
        }
        failed += usize::from(!check.ok);
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} checks failed; see the fixes above",
            checks.len()
        );
    }
    println!("everything storeflow needs is in place");
    Ok(())
}
