//! `classmate search`: a server's search index, seen and rebuilt through its admin API (every
//! server process keeps its own index; this talks to the one at `--target`).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::admin::read_password;

/// Search index commands.
#[derive(clap::Subcommand)]
pub enum SearchCommand {
    /// Backend, documents, watermark and lag of the server's index.
    Status(Connection),
    /// Rebuild the server's index from the database, with a progress bar; searches keep
    /// answering from the old index until the new one is swapped in.
    Reindex(Connection),
}

/// Which server, as which administrator. The password comes from CLASSMATE_ADMIN_PASSWORD, else
/// a prompt (or one line of standard input).
#[derive(clap::Args)]
pub struct Connection {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// An administrator's login name.
    #[arg(long, env = "CLASSMATE_ADMIN_USERNAME")]
    username: String,
}

/// Runs a search command.
pub async fn run(command: SearchCommand) -> anyhow::Result<()> {
    match command {
        SearchCommand::Status(connection) => {
            let admin = Admin::log_in(&connection).await?;
            print_status(&admin.status().await?);
            Ok(())
        }
        SearchCommand::Reindex(connection) => {
            let admin = Admin::log_in(&connection).await?;
            let before = admin.status().await?;
            let finished = before["rebuild"]["finished"].as_u64().unwrap_or(0);
            let started = Instant::now();
            admin
                .call(reqwest::Method::POST, "/api/v1/admin/search/reindex")
                .await?;
            let bar = ProgressBar::new(before["documents"].as_u64().unwrap_or(0));
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} courses {msg}")
                    .expect("a valid template"),
            );
            let status = loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let status = admin.status().await?;
                let rebuild = &status["rebuild"];
                bar.set_length(rebuild["total"].as_u64().unwrap_or(0));
                bar.set_position(rebuild["done"].as_u64().unwrap_or(0));
                if rebuild["finished"].as_u64().unwrap_or(0) > finished {
                    break status;
                }
                if rebuild["running"] == false && started.elapsed() > Duration::from_secs(5) {
                    bail!("the rebuild stopped without finishing; see the server's log");
                }
            };
            bar.finish_and_clear();
            println!(
                "색인을 다시 만들었습니다: {} courses in {:.1} s",
                status["documents"],
                started.elapsed().as_secs_f64()
            );
            print_status(&status);
            Ok(())
        }
    }
}

fn print_status(status: &Value) {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    println!("backend    {}", text(&status["backend"]));
    println!("documents  {}", text(&status["documents"]));
    println!("watermark  {}", text(&status["watermark"]));
    match status["lag_ms"].as_u64() {
        Some(ms) => println!("lag        {:.2} s", ms as f64 / 1000.0),
        None => println!("lag        - (not caught up yet)"),
    }
    if status["rebuild"]["running"] == true {
        println!(
            "rebuild    {}/{} courses",
            text(&status["rebuild"]["done"]),
            text(&status["rebuild"]["total"])
        );
    }
}

/// A logged-in administrator of one server.
struct Admin {
    client: reqwest::Client,
    target: String,
    token: String,
}

impl Admin {
    async fn log_in(connection: &Connection) -> anyhow::Result<Admin> {
        let password = match std::env::var("CLASSMATE_ADMIN_PASSWORD") {
            Ok(password) => password,
            Err(_) => read_password(false)?,
        };
        let client = reqwest::Client::new();
        let target = connection.target.trim_end_matches('/').to_owned();
        let reply = client
            .post(format!("{target}/api/v1/auth/admin/login"))
            .json(&json!({ "username": connection.username, "password": password }))
            .send()
            .await
            .with_context(|| format!("cannot reach {target}"))?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("log-in refused ({status}): {}", body["error"]["message"]);
        }
        let token = body["token"]
            .as_str()
            .context("the log-in answer has no token")?
            .to_owned();
        Ok(Admin {
            client,
            target,
            token,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str) -> anyhow::Result<Value> {
        let reply = self
            .client
            .request(method, format!("{}{path}", self.target))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.target))?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path} answered {status}: {}", body["error"]["message"]);
        }
        Ok(body)
    }

    async fn status(&self) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, "/api/v1/admin/search")
            .await
    }
}
