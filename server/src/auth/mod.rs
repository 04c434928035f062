//! Who is calling: password hashing, signed session tokens, logouts, and the sign-up, log-in
//! and log-out flows.

pub mod key;
pub mod password;
pub mod revocations;
pub mod token;

pub use key::SigningKey;
pub use password::Hashing;
pub use revocations::{Logouts, MemoryRevocations, RedisRevocations, Revocations};
pub use token::{Claims, IssuedToken, Role, TokenError, Tokens};

use crate::domain::{
    FieldError, NewStudent, NewStudentInput, Password, RosterClaim, Student, StudentNumber,
};
use crate::store::{Admin, Store, StoreError};

/// `bytes` as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a sign-up or log-in failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid sign-up")]
    Invalid(Vec<FieldError>),
    /// No unclaimed roster entry has the number and name: unknown, claimed or misspelt alike.
    #[error("no unclaimed roster entry matches")]
    NotOnRoster,
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the token was logged out")]
    Revoked,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Every hashing worker is busy and the line for them is full; a try after this many
    /// seconds is likely to find room.
    #[error("too many logins at once")]
    Busy { retry_after_seconds: u32 },
}

/// Who may sign up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignUpPolicy {
    /// The registrar's students only: a sign-up claims an unclaimed roster entry whose number
    /// and name match, and the department and year come from the roster.
    Roster,
    /// Anyone, with any unused student number, department and year: for demos.
    Open,
}

/// Registers a student: parses the form, hashes the password (in the bounded pool) and stores.
/// Under the roster the password is hashed before the roster is asked, so an unknown, a claimed
/// and a misspelt entry take as long as each other and get the same answer.
pub async fn sign_up(
    store: &dyn Store,
    hashing: &Hashing,
    policy: SignUpPolicy,
    input: NewStudentInput,
) -> Result<Student, AuthError> {
    match policy {
        SignUpPolicy::Roster => {
            let claim = RosterClaim::parse(input).map_err(AuthError::Invalid)?;
            let hash = hashing.hash(claim.password.clone()).await?;
            let student = store.claim_roster_entry(&claim, &hash).await?;
            student.ok_or(AuthError::NotOnRoster)
        }
        SignUpPolicy::Open => {
            let student = NewStudent::parse(input).map_err(AuthError::Invalid)?;
            let hash = hashing.hash(student.password.clone()).await?;
            Ok(store.insert_student(&student, &hash).await?)
        }
    }
}

/// Checks a student's number and password. Unknown numbers cost as much time as wrong
/// passwords, so the answer does not reveal which student numbers exist.
pub async fn log_in_student(
    store: &dyn Store,
    hashing: &Hashing,
    student_number: &str,
    password: String,
) -> Result<Student, AuthError> {
    let found = match StudentNumber::parse(student_number) {
        Some(number) => store.student_credentials(&number).await?,
        None => None,
    };
    let (student, hash) = found.unzip();
    match hashing.verify(password, hash).await? {
        true => student.ok_or(AuthError::InvalidCredentials),
        false => Err(AuthError::InvalidCredentials),
    }
}

/// Checks an administrator's username and password, as `log_in_student` does.
pub async fn log_in_admin(
    store: &dyn Store,
    hashing: &Hashing,
    username: &str,
    password: String,
) -> Result<Admin, AuthError> {
    let (admin, hash) = store.admin_credentials(username).await?.unzip();
    match hashing.verify(password, hash).await? {
        true => admin.ok_or(AuthError::InvalidCredentials),
        false => Err(AuthError::InvalidCredentials),
    }
}

/// Creates an administrator account with a username of 3–32 letters, digits, `-`, `_` or `.`.
pub async fn create_admin(
    store: &dyn Store,
    hashing: &Hashing,
    username: &str,
    password: String,
) -> Result<Admin, AuthError> {
    let mut errors = Vec::new();
    let valid_name = (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !valid_name {
        errors.push(FieldError::new(
            "username",
            "아이디는 3~32자의 영문, 숫자, -, _, . 이어야 합니다",
        ));
    }
    let password = Password::parse_field(password, &mut errors);
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return Err(AuthError::Invalid(errors));
    };
    let hash = hashing.hash(password).await?;
    Ok(store.insert_admin(username, &hash).await?)
}

/// The claims of a session token this server signed, that has not expired and was not logged
/// out.
pub async fn authenticate(
    tokens: &Tokens,
    logouts: &Logouts,
    token: &str,
) -> Result<Claims, AuthError> {
    let claims = tokens.verify(token)?;
    ensure_not_logged_out(logouts, &claims).await?;
    Ok(claims)
}

/// Refuses a verified token that was logged out.
pub async fn ensure_not_logged_out(logouts: &Logouts, claims: &Claims) -> Result<(), AuthError> {
    match logouts.is_revoked(&claims.jti).await? {
        true => Err(AuthError::Revoked),
        false => Ok(()),
    }
}
