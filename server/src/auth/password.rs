//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is slow on purpose, so the async wrappers run it on the blocking pool.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::AuthError;
use crate::domain::Password;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &Password) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of a password nobody has, verified against when the account does not exist so that
/// a miss takes as long as a wrong password.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let decoy = Password::parse("classmate-decoy-password".into()).expect("long enough");
    hash(&decoy).expect("hashing a constant")
});

/// `hash`, on the blocking pool.
pub async fn hash_blocking(password: Password) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| AuthError::Hashing(e.to_string()))?
}

/// `verify` on the blocking pool; with no stored hash it checks the decoy and answers false.
pub async fn verify_blocking(password: String, hash: Option<String>) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify(&password, &hash),
        None => {
            verify(&password, &DECOY_HASH);
            false
        }
    })
    .await
    .map_err(|e| AuthError::Hashing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let password = Password::parse("수강신청 성공!".into()).unwrap();
        let first = hash(&password).unwrap();
        let second = hash(&password).unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("수강신청 성공!", &first));
        assert!(verify("수강신청 성공!", &second));
        assert!(!verify("수강신청 실패!", &first));
        assert!(!verify("수강신청 성공!", "not a hash"));
        assert!(!verify("", &first));
    }
}
