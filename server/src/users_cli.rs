//! `storeflow users …`: operator accounts from the command line, for deployments where the
//! first registration must not become the operator (`FIRST_USER_IS_ADMIN=false`, the
//! control-plane chart's default). Whoever can run this already holds the database URL.

use std::io::Read;

use anyhow::{Context, bail};
use clap::Subcommand;
use sqlx::PgPool;
use storeflow::auth::{self, Audit, RecordAudit, User};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an operator (admin) account. The password is read from standard input (one
    /// line), never from the command line.
    CreateAdmin {
        /// The operator's e-mail address (how they sign in).
        #[arg(long)]
        email: String,
        /// The operator's user name, shown in the dashboard and the audit log.
        #[arg(long)]
        username: String,
    },
    /// Make an existing account an operator (admin); its sessions must sign in again.
    Promote {
        /// The account's e-mail address.
        #[arg(long)]
        email: String,
    },
}

pub async fn run(pool: &PgPool, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::CreateAdmin { email, username } => {
            let email = storeflow::api::auth_routes::normalize_email(&email);
            if !storeflow::api::auth_routes::valid_email(&email) {
                bail!("--email `{email}` is not a valid e-mail address");
            }
            let username = username.trim().to_owned();
            if !storeflow::api::auth_routes::valid_username(&username) {
                bail!("--username must be 3-128 letters, numbers, hyphens or underscores");
            }
            let password = read_password()?;
            let hash = auth::hash_password(password)
                .await
                .map_err(|err| anyhow::anyhow!("hashing the password failed: {err:?}"))?;
            let inserted = sqlx::query_as::<_, User>(
                "INSERT INTO users (id, email, username, password_hash, role) \
                 VALUES ($1, $2, $3, $4, 'admin') \
                 RETURNING id, email, username, role, created_at, token_version",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(&email)
            .bind(&username)
            .bind(&hash)
            .fetch_one(pool)
            .await;
            let user = match inserted {
                Ok(user) => user,
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    if db.constraint() == Some("users_username_key") {
                        bail!("the username `{username}` is taken; choose another --username");
                    }
                    bail!(
                        "an account with the e-mail {email} exists; make it an operator with \
                         `storeflow users promote --email {email}`"
                    );
                }
                Err(err) => return Err(err).context("creating the account failed"),
            };
            Audit::security("operator_created")
                .actor(&user)
                .data(serde_json::json!({ "via": "storeflow users create-admin" }))
                .record(pool)
                .await;
            println!("created operator {} ({})", user.username, user.email);
            Ok(())
        }
        UsersCommand::Promote { email } => {
            let email = storeflow::api::auth_routes::normalize_email(&email);
            // Bumping the token version ends the sessions issued for the old role.
            let promoted = sqlx::query_as::<_, User>(
                "UPDATE users SET role = 'admin', token_version = token_version + 1 \
                 WHERE email = $1 \
                 RETURNING id, email, username, role, created_at, token_version",
            )
            .bind(&email)
            .fetch_optional(pool)
            .await
            .context("promoting the account failed")?;
            let Some(user) = promoted else {
                bail!(
                    "no account has the e-mail {email}; create one with `storeflow users \
                     create-admin --email {email} --username NAME` (password on stdin)"
                );
            };
            Audit::security("operator_promoted")
                .actor(&user)
                .data(serde_json::json!({ "via": "storeflow users promote" }))
                .record(pool)
                .await;
            println!("{} ({}) is now an operator", user.username, user.email);
            Ok(())
        }
    }
}

/// The first line of standard input, without its line ending; 8 to 128 characters.
fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("reading the password from standard input failed")?;
    let password = input.lines().next().unwrap_or_default().to_owned();
    let length = password.chars().count();
    if !(8..=128).contains(&length) {
        bail!(
            "the password (first line of standard input) must be 8 to 128 characters; e.g. \
             `read -rs PASSWORD; printf '%s\\n' \"$PASSWORD\" | storeflow users create-admin …`"
        );
    }
    Ok(password)
}
