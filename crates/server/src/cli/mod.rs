//! The command line: `serve`, and scriptable administration (`users`, `apps`, `keys`,
//! `logout`, `admin-tokens`, `migrate`) that works against the same database while the server runs. `--json` prints
//! machine-readable output.

use clap::{Parser, Subcommand};
use doorway_store::Store;

use crate::config::{Config, GlobalArgs, ServeArgs};

mod admin_tokens;
mod apps;
mod keys;
mod logout;
mod orgs;
mod provision;
mod serve;
mod store;
mod users;

pub use admin_tokens::AdminTokensCommand;
pub use apps::AppsCommand;
pub use keys::KeysCommand;
pub use logout::LogoutCommand;
pub use orgs::OrgsCommand;
pub use store::StoreCommand;
pub use users::UsersCommand;

#[derive(Debug, Parser)]
#[command(name = "doorway", version, about = "Doorway: a self-hosted OpenID Connect provider")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start-up: the size of the serve variant (every server flag) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage OAuth apps.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Inspect and rotate signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Organizations: create, list, add and remove members.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Back-channel logout: delivery status per app.
    #[command(subcommand)]
    Logout(LogoutCommand),
    /// Tokens of the admin API (/api/v1): create (printed once), list, revoke.
    #[command(subcommand)]
    AdminTokens(AdminTokensCommand),
    /// Apply database migrations and exit.
    Migrate,
    /// Move an installation between databases (`store copy --from sqlite://… --to postgres://…`).
    #[command(subcommand)]
    Store(StoreCommand),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::serve(&cli.global, &args).await,
        Command::Migrate => {
            let config = Config::resolve(&cli.global, &ServeArgs::default())?;
            let store = crate::startup::open_store(&config).await?;
            println!("migrations applied ({})", store.dialect());
            Ok(())
        }
        Command::Store(cmd) => store::run(cmd).await,
        Command::Users(cmd) => {
            let (_, store) = open(&cli.global).await?;
            users::run(&store, cmd).await
        }
        Command::Apps(cmd) => {
            let (config, store) = open(&cli.global).await?;
            apps::run(&config, &store, cmd).await
        }
        Command::Keys(cmd) => {
            let (config, store) = open(&cli.global).await?;
            keys::run(&config, &store, cmd).await
        }
        Command::Orgs(cmd) => {
            let (_, store) = open(&cli.global).await?;
            orgs::run(&store, cmd).await
        }
        Command::Logout(cmd) => {
            let (_, store) = open(&cli.global).await?;
            logout::run(&store, cmd).await
        }
        Command::AdminTokens(cmd) => {
            let (_, store) = open(&cli.global).await?;
            admin_tokens::run(&store, cmd).await
        }
    }
}

async fn open(global: &GlobalArgs) -> anyhow::Result<(Config, Store)> {
    let config = Config::resolve(global, &ServeArgs::default())?;
    let store = crate::startup::open_store(&config).await?;
    Ok((config, store))
}
