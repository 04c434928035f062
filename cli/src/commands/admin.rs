//! `classmate admin`: administrator accounts.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use classmate_server::auth::{self, AuthError};
use classmate_server::config::DatabaseConfig;
use classmate_server::store;

/// Administrator commands.
#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// Create an administrator. Asks for the password, or reads one line from standard input.
    Create {
        /// Login name: 3–32 letters, digits, `-`, `_` or `.`.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        database: DatabaseConfig,
    },
}

/// Runs an admin command.
pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create { username, database } => {
            let password = read_password(true)?;
            let store = store::connect(&database.url, 2)
                .await
                .with_context(|| "cannot open the database")?;
            let hashing = auth::Hashing::new(1, 1);
            match auth::create_admin(store.as_ref(), &hashing, &username, password).await {
                Ok(admin) => {
                    println!(
                        "관리자 계정을 만들었습니다: {} (id {})",
                        admin.username, admin.id
                    );
                    Ok(())
                }
                Err(AuthError::Invalid(fields)) => {
                    let reasons: Vec<String> = fields
                        .iter()
                        .map(|f| format!("{}: {}", f.field, f.reason))
                        .collect();
                    bail!("{}", reasons.join("; "))
                }
                Err(e) => Err(e).context("cannot create the administrator"),
            }
        }
    }
}

/// A password: prompted without echo on a terminal (twice when `confirm`), else the first line
/// of stdin.
pub fn read_password(confirm: bool) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("비밀번호: ")?;
        if !confirm {
            return Ok(first);
        }
        let second = rpassword::prompt_password("비밀번호 확인: ")?;
        if first != second {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
