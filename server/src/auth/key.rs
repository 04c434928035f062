//! The key that signs session tokens: from configuration, or generated once and kept in a file.

use std::fmt;
use std::io::Write;
use std::path::Path;

use argon2::password_hash::rand_core::{OsRng, RngCore};

/// The shortest secret accepted, in bytes (HS256 wants at least its 256-bit output).
pub const MIN_SECRET_LEN: usize = 32;

/// Why no key could be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing secret must be at least {MIN_SECRET_LEN} bytes")]
    TooShort,
    #[error("cannot read or write the signing key file {path}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the signing key file {0} does not hold a key (64 hex digits expected)")]
    Invalid(String),
    #[error(
        "the signing key file {path} can be read by others (mode {mode:o}); make it private with chmod 600"
    )]
    Exposed { path: String, mode: u32 },
}

/// A secret HMAC key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// A key from a configured secret of at least 32 bytes.
    pub fn from_secret(secret: &str) -> Result<SigningKey, KeyError> {
        match secret.len() >= MIN_SECRET_LEN {
            true => Ok(SigningKey(secret.as_bytes().to_vec())),
            false => Err(KeyError::TooShort),
        }
    }

    /// The key kept in `path`; on first start, a new random key written there (mode 0600).
    /// Returns the key and whether it was just generated.
    pub fn load_or_generate(path: &Path) -> Result<(SigningKey, bool), KeyError> {
        let file_error = |source| KeyError::File {
            path: path.display().to_string(),
            source,
        };
        #[cfg(unix)]
        if let Ok(metadata) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Exposed {
                    path: path.display().to_string(),
                    mode,
                });
            }
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key = decode_hex(text.trim())
                    .filter(|k| k.len() >= MIN_SECRET_LEN)
                    .ok_or_else(|| KeyError::Invalid(path.display().to_string()))?;
                Ok((SigningKey(key), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(file_error)?;
                }
                let mut key = vec![0u8; MIN_SECRET_LEN];
                OsRng.fill_bytes(&mut key);
                let hex = super::hex(&key);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(format!("{hex}\n").as_bytes())
                            .map_err(file_error)?;
                        Ok((SigningKey(key), true))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_generate(path)
                    }
                    Err(e) => Err(file_error(e)),
                }
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        assert!(SigningKey::from_secret("too short").is_err());
        assert!(SigningKey::from_secret(&"k".repeat(32)).is_ok());
        assert_eq!(
            format!("{:?}", SigningKey::from_secret(&"k".repeat(32)).unwrap()),
            "SigningKey(***)"
        );
    }

    #[test]
    fn a_generated_key_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/jwt.key");
        let (first, created) = SigningKey::load_or_generate(&path).unwrap();
        assert!(created);
        let (second, created) = SigningKey::load_or_generate(&path).unwrap();
        assert!(!created);
        assert_eq!(first.bytes(), second.bytes());
        assert_eq!(first.bytes().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "zz").unwrap();
        assert!(matches!(
            SigningKey::load_or_generate(&path),
            Err(KeyError::Invalid(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let refused = SigningKey::load_or_generate(&path).unwrap_err();
            assert!(matches!(refused, KeyError::Exposed { mode: 0o644, .. }));
            assert!(refused.to_string().contains("chmod 600"), "{refused}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(SigningKey::load_or_generate(&path).is_ok());
        }
    }
}
