//! A store's admin credentials: generated (or chosen by the tenant) when the store is
//! created, sealed at rest bound to the store id, opened by the API for the owner and by the
//! setup steps that apply them to the store.

use serde::{Deserialize, Serialize};

use crate::store::sealing::{SealError, Sealer};

/// What a store's admin signs in with.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoreCredentials {
    /// The store admin's login name (`admin` unless the tenant chose one).
    pub username: String,
    /// The store admin's email; Medusa signs in with it, WooCommerce records it on the admin.
    pub email: String,
    /// Plaintext. Left out of `Debug`, and handed to the store over stdin, never in an argv
    /// or a step's output.
    pub password: String,
}

impl std::fmt::Debug for StoreCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCredentials")
            .field("username", &self.username)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl StoreCredentials {
    /// Sealed for the `stores.credentials` column, bound to `store_id`: the value opens only
    /// for that store.
    pub fn seal(&self, sealer: &Sealer, store_id: &str) -> Vec<u8> {
        // Serializing three strings cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        sealer.seal_for(&json, store_id.as_bytes())
    }

    /// Opens what [`StoreCredentials::seal`] produced for the same `store_id`. A wrong key, a
    /// value sealed for another store or a damaged value is [`SealError::CannotOpen`].
    pub fn open(sealer: &Sealer, store_id: &str, sealed: &[u8]) -> Result<Self, SealError> {
        let json = sealer.open_for(sealed, store_id.as_bytes())?;
        serde_json::from_slice(&json).map_err(|_| SealError::CannotOpen)
    }
}

/// A random password of `length` characters from an alphabet without look-alikes; also
/// URL-safe and shell-inert, so it can sit in a connection string.
pub fn random_password(length: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..length)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The store's admin credentials, for a setup step: read from the store row and opened with
/// the worker's [`Sealer`].
pub async fn load(
    cx: &storeflow_engine::StepContext<'_>,
) -> Result<StoreCredentials, storeflow_engine::StepOutcome> {
    use storeflow_engine::StepOutcome;
    let sealer = cx.resource::<Sealer>().map_err(StepOutcome::Fatal)?;
    let store = cx
        .input
        .get("store_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| StepOutcome::fatal("the run input has no `store_id`"))?;
    let sealed: Option<(Option<Vec<u8>>,)> =
        sqlx::query_as("SELECT credentials FROM stores WHERE id = $1")
            .bind(store)
            .fetch_optional(cx.pool())
            .await
            .map_err(|err| StepOutcome::retry(format!("reading store {store}: {err}")))?;
    let Some((Some(sealed),)) = sealed else {
        return Err(StepOutcome::fatal(format!(
            "store {store} has no admin credentials (was it deleted?)"
        )));
    };
    StoreCredentials::open(sealer, store, &sealed).map_err(|err| {
        StepOutcome::fatal(format!(
            "the credentials of store {store} cannot be opened: {err}; give workers the same STOREFLOW_ENCRYPTION_KEY as the API"
        ))
    })
}
