//! The HTTP surface under test: every route and its methods, read from the sources the router
//! is built from, and a running Doorway with a user, an app, an organization, an admin token and
//! a signed-in browser, so requests reach the handlers rather than stopping at "sign in first".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use doorway_server::http::admin::routes::ROUTES;
use doorway_store::NewAdminToken;
use reqwest::Method;

use crate::helpers::*;

/// One path and the methods it answers.
#[derive(Debug, Clone)]
pub struct Route {
    /// axum's syntax: `/settings/organizations/{name}`.
    pub pattern: String,
    pub methods: Vec<Method>,
    /// Part of the admin API (JSON bodies, bearer token).
    pub admin: bool,
    /// Reads a request body (every page form may; an admin operation only if documented so).
    pub takes_body: bool,
}

fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `pub const NAME: &str = "value";` in `source`.
fn const_value(source: &str, name: &str) -> Option<String> {
    let marker = format!("const {name}: &str = \"");
    let start = source.find(&marker)? + marker.len();
    let end = source[start..].find('"')? + start;
    Some(source[start..end].to_owned())
}

/// A path expression of `.route(…)`: a literal, `routes::NAME` (doorway-core), or
/// `module::path::NAME` (a constant in `src/http/module/path.rs`).
fn resolve_path(expr: &str) -> Option<String> {
    let expr = expr.trim();
    if let Some(literal) = expr.strip_prefix('"') {
        return literal.strip_suffix('"').map(str::to_owned);
    }
    let (module, name) = expr.rsplit_once("::")?;
    if module == "routes" {
        let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src/routes.rs");
        return const_value(&std::fs::read_to_string(core).ok()?, name);
    }
    let relative: PathBuf = module.split("::").collect();
    let base = server_src().join("http").join(relative);
    let source = std::fs::read_to_string(base.with_extension("rs"))
        .or_else(|_| std::fs::read_to_string(base.join("mod.rs")))
        .ok()?;
    const_value(&source, name)
}

/// The text between `open` (just after a `(`) and its matching `)`.
fn balanced(text: &str) -> &str {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    text
}

/// The method routers named in a handler expression: `get(a).post(b)`.
fn methods_of(handler: &str) -> Vec<Method> {
    let bytes = handler.as_bytes();
    let mut methods = Vec::new();
    for (name, method) in [
        ("get(", Method::GET),
        ("post(", Method::POST),
        ("put(", Method::PUT),
        ("patch(", Method::PATCH),
        ("delete(", Method::DELETE),
    ] {
        let found = handler
            .match_indices(name)
            .any(|(i, _)| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if found {
            methods.push(method);
        }
    }
    methods
}

/// Every route of `src/http/mod.rs`'s router, then every admin API route, grouped by path.
pub fn routes() -> Vec<Route> {
    let source = std::fs::read_to_string(server_src().join("http/mod.rs")).unwrap();
    let mut by_path: BTreeMap<String, Route> = BTreeMap::new();
    for (at, _) in source.match_indices(".route(") {
        let call = balanced(&source[at + ".route(".len()..]);
        let (path, handler) = call.split_once(',').unwrap_or_else(|| panic!("unreadable route: {call}"));
        let pattern = resolve_path(path).unwrap_or_else(|| panic!("cannot resolve the route path {path}"));
        let entry = by_path.entry(pattern.clone()).or_insert(Route {
            pattern,
            methods: Vec::new(),
            admin: false,
            takes_body: true,
        });
        entry.methods.extend(methods_of(handler));
    }
    for route in ROUTES {
        let method = Method::from_bytes(route.method.as_str().to_ascii_uppercase().as_bytes()).unwrap();
        let entry = by_path.entry(route.path.to_owned()).or_insert(Route {
            pattern: route.path.to_owned(),
            methods: Vec::new(),
            admin: true,
            takes_body: false,
        });
        entry.methods.push(method);
        entry.takes_body |= route.request.is_some();
    }
    let openapi = doorway_core::routes::ADMIN_OPENAPI.to_owned();
    by_path.insert(
        openapi.clone(),
        Route { pattern: openapi, methods: vec![Method::GET], admin: true, takes_body: false },
    );
    let mut routes: Vec<Route> = by_path.into_values().collect();
    for route in &mut routes {
        route.methods.dedup();
    }
    routes
}

/// A running Doorway with something behind every path parameter.
pub struct Surface {
    pub app: TestApp,
    pub client: TestClient,
    pub admin_token: String,
    /// Signed in as alice, holding a CSRF token for her forms.
    pub browser: Browser,
    pub csrf: String,
    pub user_id: String,
}

impl Surface {
    pub async fn start() -> Self {
        Self::start_with(spawn_app().await).await
    }

    /// The same surface on a PostgreSQL database.
    pub async fn start_on(database_url: &str) -> Self {
        let url = database_url.to_owned();
        Self::start_with(spawn_app_with(move |config| config.database_url = url).await).await
    }

    async fn start_with(app: TestApp) -> Self {
        let user = app.create_user("alice").await;
        let client = app.confidential_client().await;
        let admin_token = random_token("dwa_");
        let new = NewAdminToken {
            id: random_hex_id(),
            name: "hardening".into(),
            token_hash: hash_secret(&admin_token),
            read_only: false,
        };
        app.store.create_admin_token(&new, 0).await.unwrap();
        let browser = Browser::new();
        browser.login(&app, "alice").await;
        let page = browser.get(&app.url("/account")).await.text().await.unwrap();
        let csrf = input_value(&page, "csrf_token").expect("the account page has a form");
        Self { app, client, admin_token, browser, csrf, user_id: user.id }
    }

    /// A concrete path for a route: parameters name things that exist (the profile of
    /// alice, the test app, her user id), so handlers run past their lookups.
    /// Admin API paths name nothing that exists: a matrix of DELETE and `disable` calls must
    /// not remove the app or lock out the user the other requests rely on.
    pub fn path(&self, route: &Route) -> String {
        let (client_id, user_id) = if route.admin {
            ("no-such-app", "no-such-user")
        } else {
            (self.client.client_id.as_str(), self.user_id.as_str())
        };
        route
            .pattern
            .replace("{username}", "alice")
            .replace("{name}", "acme")
            .replace("{org}", "acme")
            .replace("{client_id}", client_id)
            .replace("{id}", user_id)
            .replace("{file}", "sign-in-with-hf-md-dark.svg")
            .replace("{*rest}", "anything")
    }
}

#[test]
fn the_route_list_is_read_from_the_router() {
    let routes = routes();
    let find = |p: &str| routes.iter().find(|r| r.pattern == p).unwrap_or_else(|| panic!("{p} missing"));
    assert_eq!(find("/oauth/token").methods, [Method::POST]);
    assert_eq!(find("/oauth/authorize").methods, [Method::GET, Method::POST]);
    assert_eq!(find("/settings/security-log").methods, [Method::GET]);
    assert!(find("/api/v1/apps/{client_id}").admin);
    assert!(routes.len() > 50, "only {} routes found", routes.len());
}
