//! `classmate lock`: inspect and release ShedLock-compatible scheduler locks in Redis.

use std::time::Duration;

use anyhow::{Context, bail};
use classmate_server::config::redact_url;
use classmate_server::lock::{KEY_PREFIX, LockInfo, LockInspector, Released, ValueFormat};
use classmate_server::redis_conn;

/// Where the locks are.
#[derive(clap::Args)]
pub struct LockTarget {
    /// Redis holding the locks.
    #[arg(long = "redis-url", env = "CLASSMATE_REDIS_URL")]
    redis_url: String,
    /// ShedLock environment (the `<env>` in `job-lock:<env>:<name>`).
    #[arg(long, env = "CLASSMATE_LOCK_ENV", default_value = "default")]
    env: String,
    /// ShedLock key prefix.
    #[arg(long, default_value = KEY_PREFIX)]
    prefix: String,
}

/// Lock commands.
#[derive(clap::Subcommand)]
pub enum LockCommand {
    /// List the locks (SCAN, never KEYS).
    List {
        #[command(flatten)]
        target: LockTarget,
        /// Every environment, not just --env.
        #[arg(long)]
        all_envs: bool,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one lock.
    Show {
        name: String,
        #[command(flatten)]
        target: LockTarget,
        #[arg(long)]
        json: bool,
    },
    /// Release a lock: compare-and-delete against the value just read, so a lock another
    /// holder took in between is kept. `--force` deletes whatever holds it.
    Release {
        name: String,
        #[command(flatten)]
        target: LockTarget,
        #[arg(long)]
        force: bool,
    },
    /// Make a held lock expire `--for` from now.
    Extend {
        name: String,
        #[command(flatten)]
        target: LockTarget,
        /// How long from now, e.g. `30s`.
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Duration,
    },
}

async fn inspector(target: &LockTarget) -> anyhow::Result<LockInspector> {
    let conn = redis_conn::connect(&target.redis_url)
        .await
        .with_context(|| format!("cannot reach Redis at {}", redact_url(&target.redis_url)))?;
    Ok(LockInspector::new(conn, &target.prefix))
}

/// Runs a lock command.
pub async fn run(command: LockCommand) -> anyhow::Result<()> {
    match command {
        LockCommand::List {
            target,
            all_envs,
            json,
        } => {
            let locks = inspector(&target)
                .await?
                .list((!all_envs).then_some(target.env.as_str()))
                .await?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&locks)?),
                false => print!("{}", table(&locks)),
            }
        }
        LockCommand::Show { name, target, json } => {
            let Some(lock) = inspector(&target).await?.show(&target.env, &name).await? else {
                bail!("no lock {name:?} in environment {:?}", target.env);
            };
            match json {
                true => println!("{}", serde_json::to_string_pretty(&lock)?),
                false => print!("{}", table(std::slice::from_ref(&lock))),
            }
        }
        LockCommand::Release {
            name,
            target,
            force,
        } => match inspector(&target)
            .await?
            .release(&target.env, &name, force)
            .await?
        {
            Released::Released(lock) => println!("released {} (was {})", lock.key, lock.value),
            Released::NotHeld => println!("{name} is not held"),
            Released::Changed(lock) => bail!(
                "{} changed while releasing (now {}); kept. Use --force to delete it anyway",
                lock.key,
                lock.value
            ),
        },
        LockCommand::Extend {
            name,
            target,
            duration,
        } => {
            let Some(lock) = inspector(&target)
                .await?
                .extend(&target.env, &name, duration)
                .await?
            else {
                bail!("{name} is not held (or changed while extending)");
            };
            println!("{} now expires in {}", lock.key, left(&lock));
        }
    }
    Ok(())
}

fn left(lock: &LockInfo) -> String {
    match lock.time_left_ms {
        Some(ms) => {
            humantime::format_duration(Duration::from_millis(ms.unsigned_abs())).to_string()
        }
        None => "never".into(),
    }
}

/// The locks as an aligned table.
fn table(locks: &[LockInfo]) -> String {
    let header = [
        "NAME",
        "ENV",
        "HOST",
        "LOCK ID",
        "LOCKED AT",
        "TIME LEFT",
        "EPOCH",
        "FORMAT",
    ];
    let rows: Vec<[String; 8]> = locks
        .iter()
        .map(|l| {
            [
                l.name.clone(),
                l.env.clone(),
                l.host.clone().unwrap_or_else(|| "-".into()),
                l.lock_id.clone().unwrap_or_else(|| "-".into()),
                l.locked_at.clone().unwrap_or_else(|| "-".into()),
                left(l),
                l.epoch.map_or_else(|| "-".into(), |e| e.to_string()),
                match l.format {
                    ValueFormat::From6_7 => "6.7+",
                    ValueFormat::UpTo6_6 => "<=6.6",
                    ValueFormat::Unknown => "unknown",
                }
                .into(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        out.push_str("(no locks)\n");
    }
    out
}
