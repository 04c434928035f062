//! One goose attack: `lanes` users, each running the given scenario once, with an HTTP client
//! without cookies (a lane against this machine replaces it with one bound to a loopback address
//! of its own: `lane::source_address`).

use std::time::Duration;

use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::prelude::*;

/// Runs `scenario` with `lanes` users against `base`, starting `increase_rate` users a second,
/// until every user is done.
pub async fn attack(
    base: &str,
    lanes: usize,
    increase_rate: usize,
    scenario: Scenario,
) -> anyhow::Result<()> {
    GooseAttack::initialize_with_config(GooseConfiguration::default())?
        .register_scenario(scenario)
        .set_client_builder_without_cookies(
            GooseClientBuilder::new()
                .without_cookies()
                .timeout(Duration::from_secs(60)),
        )?
        .set_default(GooseDefault::Host, base)?
        .set_default(GooseDefault::Users, lanes)?
        .set_default(
            GooseDefault::IncreaseRate,
            increase_rate.to_string().as_str(),
        )?
        .set_default(GooseDefault::Iterations, 1)?
        .set_default(GooseDefault::Quiet, 1)?
        .set_default(GooseDefault::NoMetrics, true)?
        // Nothing controls a run from outside; and a second attack would find the port taken.
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .execute()
        .await?;
    Ok(())
}

/// How many users a second goose starts: all at once up to a thousand.
pub fn increase_rate(lanes: usize) -> usize {
    lanes.clamp(1, 1000)
}
