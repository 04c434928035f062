//! Session tokens: compact JWTs signed with HMAC-SHA256 (HS256).
//!
//! Only tokens this server issued are ever accepted, so verification is strict: the header must
//! be exactly the one we write (no `alg: none`, no algorithm switching), the signature is compared
//! in constant time, and expiry is checked on every request.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;

use super::SigningKey;

/// The issuer every token names.
const ISSUER: &str = "classmate";
/// Longer than any token we issue; anything bigger is refused before decoding.
const MAX_TOKEN_LEN: usize = 2048;

/// What a token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Student,
    Admin,
}

/// A token's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The student's or administrator's id.
    pub sub: i64,
    pub role: Role,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// The token's own id, which logging out revokes.
    pub jti: String,
    pub iss: String,
}

impl Claims {
    /// When the token stops being accepted.
    pub fn expires_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.exp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// A freshly signed token and what it says. Its `Debug` shows the claims, not the token.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub claims: Claims,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"***")
            .field("claims", &self.claims)
            .finish()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a token this server issued")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
}

/// Issues and verifies tokens with one key.
pub struct Tokens {
    key: SigningKey,
    ttl: Duration,
    header: String,
}

impl Tokens {
    /// An issuer whose tokens live for `ttl`.
    pub fn new(key: SigningKey, ttl: Duration) -> Tokens {
        Tokens {
            key,
            ttl,
            header: B64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        }
    }

    /// How long a token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `sub` in `role`, valid from now for the configured lifetime.
    pub fn issue(&self, sub: i64, role: Role) -> IssuedToken {
        self.issue_at(sub, role, OffsetDateTime::now_utc())
    }

    /// A token as if issued at `now` (tests use it to mint expired tokens).
    pub fn issue_at(&self, sub: i64, role: Role, now: OffsetDateTime) -> IssuedToken {
        let iat = now.unix_timestamp();
        let claims = Claims {
            sub,
            role,
            iat,
            exp: iat.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
            jti: random_id(),
            iss: ISSUER.to_owned(),
        };
        let payload = B64.encode(serde_json::to_vec(&claims).expect("claims serialize"));
        let signing_input = format!("{}.{payload}", self.header);
        let signature = B64.encode(self.mac(&signing_input).finalize().into_bytes());
        IssuedToken {
            token: format!("{signing_input}.{signature}"),
            claims,
        }
    }

    /// The claims of a token this server signed and that has not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, OffsetDateTime::now_utc())
    }

    fn verify_at(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
        if header != self.header {
            return Err(TokenError::Malformed);
        }
        let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
        self.mac(signing_input)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.iss != ISSUER {
            return Err(TokenError::Malformed);
        }
        if claims.exp <= now.unix_timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn mac(&self, signing_input: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.key.bytes()).expect("HMAC takes any key length");
        mac.update(signing_input.as_bytes());
        mac
    }
}

/// 128 random bits as hex.
fn random_id() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    super::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(
            SigningKey::from_secret("0123456789abcdef0123456789abcdef").unwrap(),
            Duration::from_secs(3600),
        )
    }

    #[test]
    fn a_token_verifies_until_it_expires() {
        let t = tokens();
        let issued = t.issue(42, Role::Student);
        let claims = t.verify(&issued.token).unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!((claims.sub, claims.role), (42, Role::Student));
        assert_eq!(claims.exp - claims.iat, 3600);

        let later = OffsetDateTime::now_utc() + time::Duration::seconds(3601);
        assert_eq!(t.verify_at(&issued.token, later), Err(TokenError::Expired));
        let old = t.issue_at(
            1,
            Role::Student,
            OffsetDateTime::now_utc() - time::Duration::hours(2),
        );
        assert_eq!(t.verify(&old.token), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_mangled_tokens_are_refused() {
        let t = tokens();
        let issued = t.issue(7, Role::Student).token;
        let parts: Vec<&str> = issued.split('.').collect();

        // Another key's signature.
        let other = Tokens::new(
            SigningKey::from_secret("another key that is long enough!!").unwrap(),
            Duration::from_secs(3600),
        );
        assert_eq!(
            t.verify(&other.issue(7, Role::Admin).token),
            Err(TokenError::BadSignature)
        );

        // Our signature over a payload promoted to admin.
        let mut claims: Claims = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        claims.role = Role::Admin;
        let promoted = B64.encode(serde_json::to_vec(&claims).unwrap());
        let forged = format!("{}.{promoted}.{}", parts[0], parts[2]);
        assert_eq!(t.verify(&forged), Err(TokenError::BadSignature));

        // alg: none, with and without a signature.
        let none = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            t.verify(&format!("{none}.{}.", parts[1])),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            t.verify(&format!("{none}.{}.{}", parts[1], parts[2])),
            Err(TokenError::Malformed)
        );

        for junk in [
            "",
            ".",
            "..",
            "a.b.c",
            "not a token",
            &"x".repeat(5000),
            &issued[..issued.len() - 1],
        ] {
            assert!(t.verify(junk).is_err(), "{junk:?}");
        }
    }
}
