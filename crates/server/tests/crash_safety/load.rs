//! The load the server is killed under: concurrent sign-ups (each then consenting to an app and
//! redeeming its code), code flows on a first-party app, refresh-token rotation chains and app
//! creation over the admin API. Each task runs until the server goes away and records only what
//! the server acknowledged, plus what was in flight when it went.

use std::collections::HashSet;
use std::time::Instant;

use doorway_core::secrets::hash_secret;
use tokio::task::JoinHandle;

use crate::helpers::TestClient;
use crate::wire::{self, Fail};

/// What every task needs: the apps, the admin token, and alice's signed-in browser.
#[derive(Clone)]
pub struct Setup {
    /// Registered with `doorway apps create`: users consent to it once.
    pub consent_app: TestClient,
    /// Created through the admin API as first-party: no consent page.
    pub first_party: TestClient,
    pub admin_token: String,
    /// Signed up as `alice` during setup.
    pub alice: reqwest::Client,
}

/// A refresh-token family rotated by one task, one request at a time.
pub struct Chain {
    pub client: TestClient,
    /// The last refresh token the server acknowledged (returned in a `200`).
    pub last: String,
    /// The hashes of every refresh token the server handed out in this family.
    pub known: HashSet<String>,
    /// Acknowledged rotations, over all cycles.
    pub rotations: usize,
    /// Rotations that committed before a kill but whose answer never arrived.
    pub lost_answers: usize,
}

impl Chain {
    pub fn new(client: TestClient, first: String) -> Self {
        let known = HashSet::from([hash_secret(&first)]);
        Self { client, last: first, known, rotations: 0, lost_answers: 0 }
    }

    pub fn acknowledge(&mut self, token: String) {
        self.known.insert(hash_secret(&token));
        self.last = token;
    }
}

/// A user whose sign-up got its success redirect.
pub struct SignedUp {
    pub username: String,
    /// The consent page's "allow" came back as a redirect to the app with a code.
    pub consented: bool,
}

/// An authorization code and the app it was issued to.
pub struct IssuedCode {
    pub code: String,
    pub client: TestClient,
    pub minted: Instant,
}

/// What the load tasks saw, merged.
#[derive(Default)]
pub struct Records {
    pub users: Vec<SignedUp>,
    /// Sign-ups sent but not answered when the server died.
    pub signups_cut_off: Vec<String>,
    /// Redemptions answered `200`.
    pub redeemed: Vec<IssuedCode>,
    /// Codes nobody tried to redeem.
    pub unredeemed: Vec<IssuedCode>,
    /// Redemptions sent but not answered when the server died.
    pub in_flight: Vec<IssuedCode>,
    /// Apps the admin API answered `201` for.
    pub apps: Vec<TestClient>,
    pub chains: Vec<Chain>,
    /// Wrong answers under load (a 5xx, an unexpected error): each is a failure.
    pub bugs: Vec<String>,
}

impl Records {
    fn stop(&mut self, fail: Fail) {
        if let Fail::Bug(what) = fail {
            self.bugs.push(what);
        }
    }

    pub fn absorb(&mut self, other: Records) {
        self.users.extend(other.users);
        self.signups_cut_off.extend(other.signups_cut_off);
        self.redeemed.extend(other.redeemed);
        self.unredeemed.extend(other.unredeemed);
        self.in_flight.extend(other.in_flight);
        self.apps.extend(other.apps);
        self.chains.extend(other.chains);
        self.bugs.extend(other.bugs);
    }
}

/// Starts every load task against the node at `base`; each ends when the server goes away.
pub fn start(base: &str, setup: &Setup, chains: Vec<Chain>, cycle: usize) -> Vec<JoinHandle<Records>> {
    let mut tasks = Vec::new();
    for t in 0..2 {
        tasks.push(tokio::spawn(sign_ups(base.to_owned(), setup.clone(), format!("crash{cycle}s{t}n"))));
        tasks.push(tokio::spawn(code_flows(base.to_owned(), setup.clone())));
    }
    for chain in chains {
        tasks.push(tokio::spawn(rotations(base.to_owned(), chain)));
    }
    tasks.push(tokio::spawn(app_creation(base.to_owned(), setup.clone(), cycle)));
    tasks
}

/// Sign up, consent to the app, redeem the code; again with a new user.
async fn sign_ups(base: String, setup: Setup, prefix: String) -> Records {
    let mut records = Records::default();
    let app = &setup.consent_app;
    for n in 0.. {
        let http = wire::browser();
        let username = format!("{prefix}{n}");
        if let Err(fail) = wire::signup(&http, &base, &username).await {
            if matches!(fail, Fail::Down) {
                records.signups_cut_off.push(username);
            }
            records.stop(fail);
            break;
        }
        records.users.push(SignedUp { username: username.clone(), consented: false });
        let flow = match wire::authorize(&http, &base, app, &username, true).await {
            Ok(flow) => flow,
            Err(fail) => {
                records.stop(fail);
                break;
            }
        };
        if !flow.consent_shown {
            // Else the "consent survives" check after the restart would prove nothing.
            records.bugs.push(format!("new user {username} was not asked for consent"));
            break;
        }
        if let Some(user) = records.users.last_mut() {
            user.consented = true;
        }
        let code = IssuedCode { code: flow.code, client: app.clone(), minted: Instant::now() };
        match wire::exchange(&wire::client(), &base, app, &code.code).await {
            Ok(answer) if answer.status == 200 => records.redeemed.push(code),
            Ok(answer) => {
                records.bugs.push(format!("a fresh code was refused: {} {}", answer.status, answer.body));
                break;
            }
            Err(fail) => {
                records.in_flight.push(code);
                records.stop(fail);
                break;
            }
        }
    }
    records
}

/// alice authorizes the first-party app (no consent page) and redeems two codes of three.
async fn code_flows(base: String, setup: Setup) -> Records {
    let mut records = Records::default();
    let app = &setup.first_party;
    let http = wire::client();
    for n in 0.. {
        let flow = match wire::authorize(&setup.alice, &base, app, "alice", false).await {
            Ok(flow) => flow,
            Err(fail) => {
                records.stop(fail);
                break;
            }
        };
        let code = IssuedCode { code: flow.code, client: app.clone(), minted: Instant::now() };
        if n % 3 == 2 {
            records.unredeemed.push(code);
            continue;
        }
        match wire::exchange(&http, &base, app, &code.code).await {
            Ok(answer) if answer.status == 200 => records.redeemed.push(code),
            Ok(answer) => {
                records.bugs.push(format!("a fresh code was refused: {} {}", answer.status, answer.body));
                break;
            }
            Err(fail) => {
                records.in_flight.push(code);
                records.stop(fail);
                break;
            }
        }
    }
    records
}

/// Rotates one family as fast as the server answers.
async fn rotations(base: String, mut chain: Chain) -> Records {
    let mut records = Records::default();
    let http = wire::client();
    loop {
        let answer = match wire::refresh(&http, &base, &chain.client, &chain.last).await {
            Ok(answer) if answer.status == 200 => answer,
            Ok(answer) => {
                records.bugs.push(format!("a live refresh token was refused: {} {}", answer.status, answer.body));
                break;
            }
            Err(fail) => {
                records.stop(fail);
                break;
            }
        };
        match answer.str("refresh_token") {
            Ok(token) => {
                chain.acknowledge(token);
                chain.rotations += 1;
            }
            Err(fail) => {
                records.stop(fail);
                break;
            }
        }
    }
    records.chains.push(chain);
    records
}

/// Creates client_credentials apps through the admin API.
async fn app_creation(base: String, setup: Setup, cycle: usize) -> Records {
    let mut records = Records::default();
    let http = wire::client();
    for n in 0.. {
        match wire::create_app(&http, &base, &setup.admin_token, &format!("Crash {cycle}.{n}")).await {
            Ok(app) => records.apps.push(app),
            Err(fail) => {
                records.stop(fail);
                break;
            }
        }
    }
    records
}
