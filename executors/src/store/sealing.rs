//! Sealing store credentials at rest: AES-256-GCM with a key from the environment
//! (`STOREFLOW_ENCRYPTION_KEY`, 64 hex digits). A sealed value is `nonce (12 bytes) ||
//! ciphertext+tag`; a wrong key or any tampering fails to open instead of yielding garbage.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

/// Why a key or a sealed value was refused. Never contains key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key is not exactly 32 bytes of hex.
    #[error(
        "STOREFLOW_ENCRYPTION_KEY must be 64 hex digits (32 bytes), e.g. `openssl rand -hex 32`"
    )]
    BadKey,
    /// Wrong key, wrong context, truncated or tampered value: AES-GCM does not tell them apart.
    #[error("the sealed value is damaged or was sealed with another key")]
    CannotOpen,
}

/// Seals and opens values with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// From 64 hex digits.
    pub fn from_hex(key: &str) -> Result<Sealer, SealError> {
        let bytes = hex::decode(key.trim()).map_err(|_| SealError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        let key = Key::<Aes256Gcm>::from(bytes);
        Ok(Sealer {
            cipher: Aes256Gcm::new(&key),
        })
    }

    /// A fresh random key (tests, throwaway development processes).
    pub fn random() -> Sealer {
        let bytes: [u8; 32] = rand::random();
        Sealer {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(bytes)),
        }
    }

    /// Seals `plaintext` bound to no context; a fresh random nonce each call, so sealing the
    /// same value twice gives different bytes.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        self.seal_for(plaintext, b"")
    }

    /// Opens what [`Sealer::seal`] produced.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.open_for(sealed, b"")
    }

    /// Seals `plaintext` bound to `context` (e.g. the store id): it opens only with the same
    /// context, so a sealed value copied onto another record is useless.
    pub fn seal_for(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        let mut sealed = nonce_bytes.to_vec();
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        sealed.extend(
            self.cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: plaintext,
                        aad: context,
                    },
                )
                .unwrap_or_default(),
        );
        sealed
    }

    /// Opens what [`Sealer::seal_for`] produced with the same `context`.
    pub fn open_for(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 12 + 16 {
            return Err(SealError::CannotOpen);
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SealError::CannotOpen)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_values_open_only_with_their_key_and_untouched() {
        let sealer = Sealer::from_hex(KEY).expect("key");
        let secret = br#"{"email":"owner@example.com","password":"s3cret-admin"}"#;
        let sealed = sealer.seal(secret);
        assert!(
            !sealed.windows(12).any(|w| w == b"s3cret-admin"),
            "the plaintext is not visible"
        );
        assert_ne!(sealer.seal(secret), sealed, "a fresh nonce every time");
        assert_eq!(sealer.open(&sealed).expect("opens"), secret);
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(sealer.open(&tampered).is_err());
        let other = Sealer::from_hex(&KEY.replace("00", "ff")).expect("key");
        assert!(other.open(&sealed).is_err());
        assert!(sealer.open(b"short").is_err());
        let bound = sealer.seal_for(secret, b"store-00000001");
        assert_eq!(
            sealer.open_for(&bound, b"store-00000001").expect("opens"),
            secret
        );
        assert!(
            sealer.open_for(&bound, b"store-00000002").is_err(),
            "bound to its record"
        );
    }

    #[test]
    fn bad_keys_are_refused_with_a_clear_message() {
        for bad in [
            "",
            "abc",
            &KEY[..62],
            &format!("{KEY}00"),
            &KEY.replace('0', "g"),
        ] {
            let err = Sealer::from_hex(bad).expect_err("refused");
            assert!(err.to_string().contains("64 hex digits"));
        }
    }
}
