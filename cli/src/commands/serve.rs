//! `classmate serve`: the server, in this process.

use classmate_server::{Config, telemetry};

/// Settings of `classmate serve`; each is also an environment variable.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: Config,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(args.config.log_format, &args.config.log);
    classmate_server::serve(args.config).await?;
    Ok(())
}
