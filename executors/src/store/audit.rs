//! The audit trail (`audit_events`): who asked for what, about which store or user. The API
//! writes a row in the transaction of the change it records (a rolled-back request leaves
//! none), the cleanup workflows write theirs in the step's transaction, and the lifecycle
//! trigger writes `status_changed` itself.
//!
//! The store's own actions are [`StoreAction`]s, so the routes and the workflows that request
//! the same transition name it the same way.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// What was done to a store (the `store` category), by a tenant through the API or by a
/// schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAction {
    /// The store was requested.
    Created,
    /// A store was refused because the platform is at its store limit.
    CreationRefusedPlatformFull,
    /// The store's teardown was requested by its owner.
    DeleteRequested,
    /// The store's failed operation was retried.
    RetryRequested,
    /// The store's upgrade was requested.
    UpgradeRequested,
    /// A rotation of the store's admin credentials was requested.
    CredentialsRotationRequested,
    /// A backup of the store was requested.
    BackupRequested,
    /// One of the store's backups is being restored into the store itself (a restore into a
    /// new store is that store's [`Created`](Self::Created), with `restoreFrom`).
    RestoreRequested,
    /// The store's backup schedule or retention changed.
    BackupPolicyChanged,
    /// The store had failed for too long and the cleanup schedule tore it down.
    Reaped,
    /// One of the store's runs moved it to another status (the lifecycle trigger writes the
    /// same action when a run's end moves it).
    StatusChanged,
    /// A rotation run applied the store's new credentials; the previous ones no longer work.
    CredentialsRotated,
}

impl StoreAction {
    /// The action as `audit_events.action` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            StoreAction::Created => "store_created",
            StoreAction::CreationRefusedPlatformFull => "creation_refused_platform_full",
            StoreAction::DeleteRequested => "store_delete_requested",
            StoreAction::RetryRequested => "store_retry_requested",
            StoreAction::UpgradeRequested => "store_upgrade_requested",
            StoreAction::CredentialsRotationRequested => "credentials_rotation_requested",
            StoreAction::BackupRequested => "store_backup_requested",
            StoreAction::RestoreRequested => "store_restore_requested",
            StoreAction::BackupPolicyChanged => "store_backup_policy_changed",
            StoreAction::Reaped => "store_reaped",
            StoreAction::StatusChanged => "status_changed",
            StoreAction::CredentialsRotated => "credentials_rotated",
        }
    }
}

/// Who did it: a signed-in user.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The user's id.
    pub id: Uuid,
    /// The user's email as it was when they acted (the row outlives renames).
    pub email: &'a str,
}

/// One audit row, built up and then written with [`Audit::write_in`].
#[derive(Debug)]
pub struct Audit<'a> {
    category: &'static str,
    action: &'a str,
    actor: Option<Actor<'a>>,
    actor_email: Option<&'a str>,
    ip: Option<&'a str>,
    subject: Option<&'a str>,
    request_id: Option<String>,
    data: Value,
}

impl<'a> Audit<'a> {
    /// An event of `category` (`store`, `security`, `rollout`, `run`, `schedule`).
    pub fn new(category: &'static str, action: &'a str) -> Self {
        Audit {
            category,
            action,
            actor: None,
            actor_email: None,
            ip: None,
            subject: None,
            request_id: None,
            data: Value::Object(Default::default()),
        }
    }

    /// Something done to a store (its id is the [`subject`](Self::subject)).
    pub fn store(action: StoreAction) -> Self {
        Audit::new("store", action.as_str())
    }

    /// A security event (registration, logins, lockouts, password changes).
    pub fn security(action: &'a str) -> Self {
        Audit::new("security", action)
    }

    /// The event's category.
    pub fn category(&self) -> &'static str {
        self.category
    }

    /// The event's action.
    pub fn action(&self) -> &'a str {
        self.action
    }

    /// Who did it.
    pub fn actor(mut self, actor: impl Into<Actor<'a>>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The email someone who is not signed in gave (a failed login).
    pub fn email(mut self, email: &'a str) -> Self {
        self.actor_email = Some(email);
        self
    }

    /// The client's address.
    pub fn ip(mut self, ip: &'a str) -> Self {
        self.ip = Some(ip);
        self
    }

    /// What the event is about: a store's or a user's id.
    pub fn subject(mut self, subject: &'a str) -> Self {
        self.subject = Some(subject);
        self
    }

    /// The id of the API request that did it.
    pub fn request_id(mut self, request_id: String) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// Details (never secrets).
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// Writes the event inside the caller's transaction (it commits or rolls back with it).
    pub async fn write_in(&self, conn: &mut PgConnection) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO audit_events (category, action, actor_id, actor_email, ip_address, subject, request_id, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(self.category)
        .bind(self.action)
        .bind(self.actor.map(|actor| actor.id))
        .bind(self.actor.map(|actor| actor.email).or(self.actor_email))
        .bind(self.ip)
        .bind(self.subject)
        .bind(self.request_id.as_deref())
        .bind(&self.data)
        .execute(conn)
        .await?;
        Ok(())
    }
}
