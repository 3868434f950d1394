//! Crash safety (issue #8): the real `doorway serve` process under load — sign-ups, consents,
//! code redemptions, refresh rotations, app creation — is killed with SIGKILL at a random
//! moment and restarted on the same database, three times per backend. After each restart,
//! everything the server acknowledged is still there, no code redeems twice, no refresh-token
//! family has two live tokens, the signing keys are the same and the database is sound.
//! SQLite always; PostgreSQL when DOORWAY_TEST_POSTGRES is set (scripts/test sets it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/nodes.rs"]
mod nodes;

mod checks;
mod db;
mod load;
mod wire;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use checks::Witness;
use db::Db;
use helpers::{PgDatabase, TestClient};
use load::{Chain, Records, Setup};
use nodes::{Node, SECRET_KEY};

const CYCLES: usize = 3;
const CHAINS: usize = 3;
/// "Starts in well under a few seconds" (a debug build on a busy 2-core machine included).
const STARTUP_LIMIT: Duration = Duration::from_secs(5);

/// The two backends take turns: each loads both cores on its own.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_on_sqlite_loses_nothing_acknowledged_and_redeems_nothing_twice() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doorway.db");
    crash_cycles(&format!("sqlite://{}", file.display()), Some(file)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_on_postgres_loses_nothing_acknowledged_and_redeems_nothing_twice() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(db) = PgDatabase::create("crash_safety").await else { return };
    crash_cycles(&db.url, None).await;
    db.finish().await;
}

/// Setup, then [`CYCLES`] × (load, SIGKILL, restart, checks). `sqlite_file` is the database
/// file on SQLite.
async fn crash_cycles(url: &str, sqlite_file: Option<PathBuf>) {
    doorway_server::install_crypto();
    let mut node = start(url).await;
    let (setup, mut chains, witness) = set_up(&node, url).await;
    let mut users = Vec::new();
    for cycle in 0..CYCLES {
        let kids_before = checks::published_kids(&node.base).await;
        let rotations_before: usize = chains.iter().map(|c| c.rotations).sum();
        let tasks = load::start(&node.base, &setup, std::mem::take(&mut chains), cycle);
        // A random moment 2–4 s into the load.
        let delay = 2000 + u64::try_from(uuid::Uuid::new_v4().as_u128() % 2000).unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        sigkill(node);
        let mut records = Records::default();
        for task in tasks {
            records.absorb(task.await.unwrap());
        }
        assert!(records.bugs.is_empty(), "wrong answers under load: {:#?}", records.bugs);
        let wal = sqlite_file.as_ref().map(|file| {
            let wal = PathBuf::from(format!("{}-wal", file.display()));
            // The kill left the write-ahead log behind: the restart must recover from it.
            std::fs::metadata(&wal).map(|m| m.len()).unwrap_or_else(|e| panic!("no WAL after the kill: {e}"))
        });

        let started = Instant::now();
        node = start(url).await;
        let startup = started.elapsed();
        assert!(startup < STARTUP_LIMIT, "the restart took {startup:?}");
        let ready = reqwest::get(node.url("/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200, "the database opened cleanly and is migrated");
        let db = Db::connect(url).await;
        if let Some(result) = db.integrity_check().await {
            assert_eq!(result, vec!["ok".to_owned()], "PRAGMA integrity_check after the crash");
        }
        checks::keys(&node.base, &setup, &kids_before, &witness).await;
        checks::one_live_token_per_family(&db).await;
        checks::chains(&node.base, &db, &mut records.chains).await;
        checks::codes(&node.base, &records).await;
        checks::users(&node.base, &setup, &records.users).await;
        checks::signups_cut_off(&node.base, &setup, &records.signups_cut_off).await;
        checks::apps(&node.base, &records.apps).await;
        checks::one_live_token_per_family(&db).await;
        eprintln!(
            "{} cycle {cycle}: killed after {delay} ms{}; restarted in {startup:?}; verified {} sign-ups ({} cut off), {} redeemed \
             codes, {} unredeemed, {} redemptions cut off, {} rotations (answers lost in the kill so far: {}), {} apps{}",
            if sqlite_file.is_some() { "sqlite" } else { "postgres" },
            wal.map(|w| format!(" (WAL {w} bytes)")).unwrap_or_default(),
            records.users.len(),
            records.signups_cut_off.len(),
            records.redeemed.len(),
            records.unredeemed.len(),
            records.in_flight.len(),
            records.chains.iter().map(|c| c.rotations).sum::<usize>() - rotations_before,
            records.chains.iter().map(|c| c.lost_answers).sum::<usize>(),
            records.apps.len(),
            db.synchronous_commit().await.map(|s| format!(", synchronous_commit={s}")).unwrap_or_default(),
        );
        assert!(!records.users.is_empty() && !records.redeemed.is_empty(), "the load did something");
        db.close().await;
        users.extend(records.users);
        chains = records.chains;
    }
    // Users from every cycle, after the last crash.
    checks::users(&node.base, &setup, &users).await;
    drop(node);
}

/// `doorway serve` on `url`, waited for until it listens. A long refresh grace window keeps the
/// lost-answer rule deterministic however slow the restart (see [`checks::chains`]).
async fn start(url: &str) -> Node {
    let (child, output, dir) = nodes::spawn_node(url, &["--refresh-grace", "60s"], &[]);
    tokio::task::spawn_blocking(move || Node::ready(child, output, dir)).await.unwrap()
}

/// `kill -9`: no shutdown path runs, nothing is flushed or closed.
fn sigkill(mut node: Node) {
    let killed = Command::new("kill").args(["-KILL", &node.pid().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = node.wait_exit(Duration::from_secs(10)).expect("the process dies");
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
}

/// The CLI as an operator runs it against the same database; returns its JSON output.
fn cli(url: &str, args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_doorway"))
        .args(["--database", url])
        .args(args)
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("DOORWAY_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "doorway {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// An admin token and an app (CLI), a first-party app (admin API), alice (sign-up over HTTP)
/// who consents to the app once, [`CHAINS`] refresh families, and a witness token.
async fn set_up(node: &Node, url: &str) -> (Setup, Vec<Chain>, Witness) {
    let token = cli(url, &["admin-tokens", "create", "--name", "crash-safety", "--json"]);
    let admin_token = token["token"].as_str().unwrap().to_owned();
    let callback = "https://app.example/callback";
    let created = cli(url, &["apps", "create", "--name", "Crash App", "--redirect-uri", callback, "--json"]);
    let consent_app = TestClient {
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
        redirect_uri: callback.to_owned(),
    };
    let body = serde_json::json!({
        "name": "Crash First Party",
        "redirect_uris": [callback],
        "scopes": "openid profile",
        "first_party": true,
    });
    let created: serde_json::Value = wire::client()
        .post(node.url("/api/v1/apps"))
        .bearer_auth(&admin_token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_party = TestClient {
        client_id: created["client_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
        redirect_uri: callback.to_owned(),
    };

    let alice = wire::browser();
    ok(wire::signup(&alice, &node.base, "alice").await);
    let setup = Setup { consent_app, first_party, admin_token, alice };
    let mut chains = Vec::new();
    for i in 0..CHAINS {
        let flow = ok(wire::authorize(&setup.alice, &node.base, &setup.consent_app, "alice", i == 0).await);
        let tokens = ok(wire::exchange(&wire::client(), &node.base, &setup.consent_app, &flow.code).await);
        chains.push(Chain::new(setup.consent_app.clone(), ok(tokens.str("refresh_token"))));
    }
    let flow = ok(wire::authorize(&setup.alice, &node.base, &setup.first_party, "alice", false).await);
    let tokens = ok(wire::exchange(&wire::client(), &node.base, &setup.first_party, &flow.code).await);
    let witness = Witness { access_token: ok(tokens.str("access_token")), id_token: ok(tokens.str("id_token")) };
    (setup, chains, witness)
}

fn ok<T>(step: wire::Step<T>) -> T {
    step.unwrap_or_else(|fail| panic!("setup: {fail:?}"))
}
