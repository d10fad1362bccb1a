//! Password hashing (Argon2id) with bounded, reused memory.
//!
//! # Guarantees
//! - At most one hash per core runs at a time; a caller waits up to 10 s for a slot, then
//!   gets 503 (a flood of logins queues instead of exhausting the machine).
//! - Argon2's working memory (19 MiB per hash with the default parameters) is allocated
//!   once per slot and reused, so the process never holds more than `cores × 19 MiB` for
//!   hashing, however many logins it has served.
//! - Hashes are standard PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`), verified in
//!   constant time; hashes written with other parameters still verify.
//!
//! # Why not `Argon2::hash_password`
//! The argon2 crate allocates the working memory per call. Freed on a different blocking
//! thread each time, those 19 MiB blocks stayed in glibc's per-thread arenas (glibc raises
//! its mmap threshold after the first free of such a block, so later ones come from the
//! arenas and are not returned to the system): a server that started at 21 MiB kept 450+
//! MiB after a burst of logins. Here the memory is ours and is reused.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{ApiError, ApiResult};

/// Hashing slots: permits plus the working memory each slot keeps between hashes.
struct Slots {
    permits: tokio::sync::Semaphore,
    /// Buffers not in use; at most one per permit is ever allocated.
    idle_memory: Mutex<Vec<Vec<Block>>>,
}

fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Slots {
            permits: tokio::sync::Semaphore::new(cores),
            idle_memory: Mutex::new(Vec::new()),
        }
    })
}

/// Runs `work` on a blocking thread with a slot's working memory.
async fn with_slot<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let slots = slots();
    let permit = tokio::time::timeout(Duration::from_secs(10), slots.permits.acquire())
        .await
        .map_err(|_| ApiError::unavailable("The server is busy verifying passwords."))?
        .map_err(ApiError::internal)?;
    // The slot (permit and memory) goes with the blocking work and comes back only when the
    // hash is done — also when the request that asked for it is gone by then (a hash cannot
    // be stopped midway), so abandoned logins never run more hashes at once than there are
    // slots, nor allocate more memory.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let idle = || slots.idle_memory.lock().unwrap_or_else(|p| p.into_inner());
        let mut memory = idle().pop().unwrap_or_default();
        let result = work(&mut memory);
        idle().push(memory);
        result
    })
    .await
    .map_err(ApiError::internal)?
}

/// The working memory for `params`, grown in place only when a hash needs more than the
/// slot has (a hash written with larger parameters).
fn memory_for<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::new());
    }
    &mut memory[..needed]
}

fn hashing_error(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("password hashing failed: {err}"))
}

/// Hashes `password` with Argon2id and the default parameters, as a PHC string.
pub async fn hash_password(password: String) -> ApiResult<String> {
    let salt: [u8; 16] = rand::random();
    with_slot(move |memory| {
        let params = Params::default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                &salt,
                &mut out,
                memory_for(memory, &params),
            )
            .map_err(hashing_error)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(hashing_error)?,
            salt: Some(Salt::new(&salt).map_err(hashing_error)?),
            hash: Some(Output::new(&out).map_err(hashing_error)?),
        };
        Ok(hash.to_string())
    })
    .await
}

/// Constant-time check of `password` against a stored PHC hash.
pub async fn verify_password(password: String, stored: String) -> ApiResult<bool> {
    with_slot(move |memory| {
        let parsed = PasswordHash::new(&stored).map_err(hashing_error)?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err(hashing_error("the stored hash has no salt or no output"));
        };
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(hashing_error)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(hashing_error)?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).map_err(hashing_error)?;
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                &mut out,
                memory_for(memory, &params),
            )
            .map_err(hashing_error)?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(&out).map_err(hashing_error)? == *expected)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify_password("correct horse".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("correct hors".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_written_by_the_argon2_crate_still_verify() {
        // Accounts created before this module hashed with `Argon2::default().hash_password`.
        let earlier = Argon2::default()
            .hash_password(b"an older password")
            .unwrap()
            .to_string();
        assert!(
            verify_password("an older password".into(), earlier.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("another password".into(), earlier)
                .await
                .unwrap()
        );
        // Other parameters (more memory than a slot holds) verify too.
        let params = Params::new(32 * 1024, 1, 1, None).unwrap();
        let bigger = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"bigger")
            .unwrap()
            .to_string();
        assert!(verify_password("bigger".into(), bigger).await.unwrap());
    }

    #[tokio::test]
    async fn a_damaged_hash_is_an_error_not_a_match() {
        assert!(
            verify_password("x".into(), "$argon2id$garbage".into())
                .await
                .is_err()
        );
    }
}
