//! A black-box OpenID conformance suite: Doorway on port 0, driven over HTTP only, module by
//! module after the OpenID Foundation's OP tests (Basic, Config and RP-Initiated Logout
//! profiles). A custom harness, so the table `module | result | note` is always printed; it
//! ends with a libtest-style `test result:` line and exits non-zero when a module fails.
//!
//! The harness only sets the stage (one user per module, the registered clients); everything a
//! module does goes through discovery, the browser pages and the endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

/// `modules!["oidcc-x" => function, …]`: a file's modules, each `async fn(Arc<Ctx>, String)
/// -> Check<String>` taking the context and its own user's name.
macro_rules! modules {
    ($($name:literal => $f:path),* $(,)?) => {
        pub fn modules() -> Vec<crate::Module> {
            vec![$(($name, |ctx, user| Box::pin($f(ctx, user)) as crate::ModuleFuture)),*]
        }
    };
}

mod basic;
mod config;
mod html;
mod logout;
mod rp;
mod session;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use doorway_core::model::ClientKind;
use doorway_core::types::{RedirectPolicy, RedirectUri};

use rp::{Auth, Browser, Check, Expect, Flow, Op, Rp, Tokens};

/// What every module gets: the provider (as discovered) and what was registered out of band, as
/// the OIDF suite's configuration would hold it.
pub struct Ctx {
    pub op: Op,
    pub rp: Rp,
    /// A second client, for binding checks (a refresh token must not work for another client).
    pub rp2: Rp,
    /// One client per other ID token algorithm discovery offers, with that algorithm.
    pub by_alg: Vec<(String, Rp)>,
    /// A person no module signs in as, except to obtain an ID token naming someone else.
    pub other_user: String,
}

/// A module: `Ok(note)` when it passes, `Err(why)` when it fails.
pub type ModuleFuture = Pin<Box<dyn Future<Output = Check<String>> + Send>>;
pub type Module = (&'static str, fn(Arc<Ctx>, String) -> ModuleFuture);

/// The result of the OIDF suite's standard flow: authorize, redeem, verify.
pub struct Done {
    pub request: Vec<(String, String)>,
    pub flow: Flow,
    pub tokens: Tokens,
}

/// The code flow as the OIDF modules run it: the authorization request (`extra` on top of the
/// defaults) sent as GET or POST, login and consent answered as `user`, the code redeemed with
/// `auth` (plus `token_extra`), the callback, the token response and the ID token checked.
pub async fn code_flow(
    ctx: &Ctx,
    browser: &Browser,
    user: &str,
    extra: &[(&str, &str)],
    post: bool,
    auth: Auth,
    token_extra: &[(&str, &str)],
) -> Check<Done> {
    code_flow_at(ctx, &ctx.rp, browser, user, extra, post, auth, token_extra).await
}

/// [`code_flow`] for the client `rp`.
#[allow(clippy::too_many_arguments)]
pub async fn code_flow_at(
    ctx: &Ctx,
    rp: &Rp,
    browser: &Browser,
    user: &str,
    extra: &[(&str, &str)],
    post: bool,
    auth: Auth,
    token_extra: &[(&str, &str)],
) -> Check<Done> {
    let request = rp::auth_request(rp, extra);
    let flow = browser.authorize(&ctx.op, user, &request, post).await?;
    let code = rp::expect_code(&ctx.op, rp, &flow, &request)?;
    let expect =
        Expect { nonce: rp::param(&request, "nonce"), auth_time_required: rp::param(&request, "max_age").is_some() };
    let tokens = rp::redeem(&ctx.op, rp, auth, &code, token_extra, &expect).await?;
    Ok(Done { request, flow, tokens })
}

/// The default flow: GET, client_secret_basic.
pub async fn happy(ctx: &Ctx, browser: &Browser, user: &str, extra: &[(&str, &str)]) -> Check<Done> {
    code_flow(ctx, browser, user, extra, false, Auth::Basic, &[]).await
}

/// Each module gets this long; `oidcc-codereuse-30seconds` needs 30 s of it.
const MODULE_TIMEOUT: Duration = Duration::from_secs(50);

/// Which modules to run, from libtest-like arguments: `[FILTER…] [--exact] [--skip S] [--list]`,
/// so `cargo test -p doorway-server -- some_test` does not drag the whole suite along.
struct Selection {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    list: bool,
    /// `--ignored`: only ignored tests, and no module is ignored.
    ignored_only: bool,
}

impl Selection {
    fn from_args() -> Self {
        let mut selection =
            Selection { filters: Vec::new(), skips: Vec::new(), exact: false, list: false, ignored_only: false };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--exact" => selection.exact = true,
                "--list" => selection.list = true,
                "--ignored" => selection.ignored_only = true,
                "--skip" => selection.skips.extend(args.next()),
                // libtest options that take a value; their value is not a filter.
                "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" => {
                    args.next();
                }
                other if other.starts_with('-') => {}
                other => selection.filters.push(other.to_owned()),
            }
        }
        selection
    }

    fn wants(&self, name: &str) -> bool {
        let matches = |pattern: &String| if self.exact { name == pattern } else { name.contains(pattern.as_str()) };
        !self.ignored_only
            && (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skips.iter().any(matches)
    }
}

fn main() -> ExitCode {
    let selection = Selection::from_args();
    let all: Vec<Module> =
        [config::modules(), basic::modules(), session::modules(), logout::modules()].into_iter().flatten().collect();
    let total = all.len();
    let modules: Vec<Module> = all.into_iter().filter(|(name, _)| selection.wants(name)).collect();
    if selection.list {
        for (name, _) in &modules {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filtered_out = total - modules.len();
    if modules.is_empty() {
        println!("test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {filtered_out} filtered out");
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(run(modules, filtered_out))
}

async fn register(app: &helpers::TestApp, host: &str, alg: &str) -> Rp {
    let redirect_uri = format!("https://{host}/callback");
    let post_logout_redirect_uri = format!("https://{host}/logged-out");
    let logout = post_logout_redirect_uri.clone();
    let client = app
        .create_client_with(&redirect_uri, ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.scopes = doorway_core::types::ScopeSet::parse("openid profile email").unwrap();
            c.post_logout_redirect_uris = vec![RedirectUri::parse(&logout).unwrap()];
            c.id_token_alg = alg.to_owned();
        })
        .await;
    Rp { client_id: client.client_id, secret: client.secret.unwrap(), redirect_uri, post_logout_redirect_uri }
}

async fn run(modules: Vec<Module>, filtered_out: usize) -> ExitCode {
    let started = Instant::now();
    // Every module signs in from 127.0.0.1: the per-address login budget is raised so ~80
    // successful sign-ins in a minute are not mistaken for guessing.
    let app = helpers::spawn_app_with(|c| {
        c.login_max_attempts = 10_000;
        c.login_ip_multiplier = 10;
    })
    .await;
    let op = match Op::discover(&app.issuer).await {
        Ok(op) => op,
        Err(why) => {
            println!("discovery failed, no module can run: {why}");
            println!(
                "test result: FAILED. 0 passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out",
                modules.len()
            );
            return ExitCode::FAILURE;
        }
    };
    let rp = register(&app, "rp.example", "RS256").await;
    let rp2 = register(&app, "rp2.example", "RS256").await;
    let mut by_alg = Vec::new();
    let algs = op.meta["id_token_signing_alg_values_supported"].as_array().cloned().unwrap_or_default();
    for alg in algs.iter().filter_map(|a| a.as_str()).filter(|a| *a != "RS256") {
        let host = format!("rp-{}.example", alg.to_ascii_lowercase());
        by_alg.push((alg.to_owned(), register(&app, &host, alg).await));
    }
    let users: Vec<String> = (0..modules.len()).map(|i| format!("conformance{i:02}")).collect();
    let other_user = "conformance-other".to_owned();
    for user in users.iter().chain([&other_user]) {
        app.create_user(user).await;
    }
    let ctx = Arc::new(Ctx { op, rp, rp2, by_alg, other_user });

    // Concurrently, so that the 30-second wait of oidcc-codereuse-30seconds overlaps the rest.
    let handles: Vec<_> = modules
        .iter()
        .zip(users)
        .map(|((_, module), user)| {
            let ctx = Arc::clone(&ctx);
            let module = *module;
            tokio::spawn(async move { tokio::time::timeout(MODULE_TIMEOUT, module(ctx, user)).await })
        })
        .collect();
    let outcomes = futures::future::join_all(handles).await;

    let width = modules.iter().map(|(name, _)| name.len()).max().unwrap_or(6);
    println!();
    println!("| {:width$} | result | note |", "module");
    println!("|{}|--------|------|", "-".repeat(width + 2));
    let (mut passed, mut failed) = (0, 0);
    for ((name, _), outcome) in modules.iter().zip(outcomes) {
        let result = match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(format!("timed out after {} s", MODULE_TIMEOUT.as_secs())),
            Err(join) => Err(format!("panicked: {join}")),
        };
        let (verdict, note) = match result {
            Ok(note) => {
                passed += 1;
                ("PASS", note)
            }
            Err(why) => {
                failed += 1;
                ("FAIL", why)
            }
        };
        println!("| {name:width$} | {verdict:6} | {} |", note.replace('|', "/").replace('\n', " "));
    }
    println!();
    println!("conformance: {} modules in {:.1} s", modules.len(), started.elapsed().as_secs_f64());
    let word = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "test result: {word}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered_out} filtered out"
    );
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
