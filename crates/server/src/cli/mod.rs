//! The command line: `serve`, and scriptable administration (`users`, `apps`, `keys`,
//! `logout`, `admin-tokens`, `migrate`) that works against the same database while the server runs. `--json` prints
//! machine-readable output.

use clap::{Parser, Subcommand};
use doorway_store::Store;

use crate::config::{Config, GlobalArgs, ServeArgs};

mod admin_tokens;
mod apps;
mod email;
mod keys;
mod logout;
mod orgs;
mod provision;
mod serve;
mod store;
mod users;

pub use admin_tokens::AdminTokensCommand;
pub use apps::AppsCommand;
pub use email::EmailCommand;
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
    /// The email outbox: what was sent, what waits, and why.
    #[command(subcommand)]
    Email(EmailCommand),
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
        Command::Email(cmd) => {
            let (_, store) = open(&cli.global).await?;
            email::run(&store, cmd).await
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

/// Records a change made from the command line in the security log, as the admin API records
/// its writes (`admin.write`): the actor is the command line (`via: cli`, the command, and the
/// operating-system user from `$USER` when set). `user_id` is the account concerned, which then
/// sees the entry in its own security log. Best effort, like every audit record.
pub(crate) async fn audit(
    store: &Store,
    command: &str,
    user_id: Option<&str>,
    client_id: Option<&str>,
    extra: serde_json::Value,
) {
    audit_as(store, crate::audit::kind::ADMIN_WRITE, command, user_id, client_id, extra).await;
}

/// [`audit`] with an event kind of its own (e.g. `two_factor.reset`).
pub(crate) async fn audit_as(
    store: &Store,
    kind: &'static str,
    command: &str,
    user_id: Option<&str>,
    client_id: Option<&str>,
    extra: serde_json::Value,
) {
    let mut detail = serde_json::json!({ "via": "cli", "command": command });
    if let Some(os_user) =
        std::env::var("USER").ok().map(|u| u.chars().filter(|c| !c.is_control()).take(64).collect::<String>())
        && !os_user.is_empty()
    {
        detail["os_user"] = serde_json::json!(os_user);
    }
    if let (Some(detail), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra) {
        detail.extend(extra);
    }
    let mut event = crate::audit::Event::new(kind).detail(detail);
    if let Some(user_id) = user_id {
        event = event.user(user_id);
    }
    if let Some(client_id) = client_id {
        event = event.client(client_id);
    }
    crate::audit::record_with_store(store, &crate::audit::Origin::default(), event, crate::state::now()).await;
}
