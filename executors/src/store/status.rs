//! A store's status, the PostgreSQL enum `store_status` as a Rust type.

use serde::{Deserialize, Serialize};

/// A store's status; mirrors the PostgreSQL enum `store_status`.
///
/// Decodes from that enum and from its text (the API's page functions return statuses as
/// text); binds as the enum, so compare it with a `store_status` column, never with
/// `status::text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreStatus {
    /// Created; its provisioning run has not started.
    Requested,
    /// Its provisioning run is setting it up in the cluster; not serving yet.
    Provisioning,
    /// Serving; the only status that takes new operations (backup, upgrade, rotation, …).
    Ready,
    /// An upgrade run is moving it to new chart and app versions; a failed upgrade rolls its
    /// release back.
    Upgrading,
    /// Its data is being replaced from a backup.
    Restoring,
    /// Its current operation failed (the run says where); retry or delete it.
    Failed,
    /// Its teardown run is removing it from the cluster.
    Deleting,
    /// Gone from the cluster; the row stays for its history.
    Deleted,
}

impl StoreStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [StoreStatus; 8] = [
        StoreStatus::Requested,
        StoreStatus::Provisioning,
        StoreStatus::Ready,
        StoreStatus::Upgrading,
        StoreStatus::Restoring,
        StoreStatus::Failed,
        StoreStatus::Deleting,
        StoreStatus::Deleted,
    ];

    /// The status as PostgreSQL and the API spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            StoreStatus::Requested => "requested",
            StoreStatus::Provisioning => "provisioning",
            StoreStatus::Ready => "ready",
            StoreStatus::Upgrading => "upgrading",
            StoreStatus::Restoring => "restoring",
            StoreStatus::Failed => "failed",
            StoreStatus::Deleting => "deleting",
            StoreStatus::Deleted => "deleted",
        }
    }

    /// Being deleted, or deleted: no operation but the teardown's applies.
    pub const fn is_going(self) -> bool {
        matches!(self, StoreStatus::Deleting | StoreStatus::Deleted)
    }
}

impl std::fmt::Display for StoreStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StoreStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        StoreStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not a store status"))
    }
}

impl sqlx::Type<sqlx::Postgres> for StoreStatus {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_name("store_status")
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        *ty == Self::type_info() || <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for StoreStatus {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
        Ok(text.parse()?)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for StoreStatus {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<'_, sqlx::Postgres>>::encode(self.as_str(), buf)
    }
}

/// The statuses a store may have, as text (PostgreSQL enum `store_status`).
pub const STORE_STATUSES: [&str; 8] = {
    let mut names = [""; 8];
    let mut i = 0;
    while i < 8 {
        names[i] = StoreStatus::ALL[i].as_str();
        i += 1;
    }
    names
};
