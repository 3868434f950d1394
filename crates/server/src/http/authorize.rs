//! The authorization endpoint and the consent decision (RFC 6749 §4.1, OIDC Core §3.1.2).
//!
//! Order: client → redirect URI → everything else (`doorway_core::oauth::authorize`). Before
//! the redirect URI is verified, errors are pages; after, they are redirects carrying `state`
//! and `iss`. A request that needs the person (login, consent) is parked as an interaction in
//! the database and validated again, from its original parameters, when it resumes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::{AuthorizationCode, Client};
use doorway_core::oauth::authorize::{self, AuthorizationRequest, Next, RedirectError, ResponseMode, SessionState};
use doorway_core::oauth::params::Params;
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::types::VerifiedRedirect;
use doorway_store::{ConsentState, Interaction};
use minijinja::context;
use serde::Deserialize;

use crate::http::error::PageError;
use crate::http::form::{FormParams, PageForm, QueryParams};
use crate::http::orgs;
use crate::http::session::{CurrentUser, MaybeUser, check_csrf, csrf_token};
use crate::state::{AppState, now};

/// How long a parked request waits for the person.
const INTERACTION_TTL: i64 = 30 * 60;

pub async fn authorize_get(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    QueryParams(params): QueryParams,
) -> Response {
    start(&state, user, jar, params).await.unwrap_or_else(IntoResponse::into_response)
}

/// OIDC Core §3.1.2.1: the endpoint also accepts form-encoded POST.
pub async fn authorize_post(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    FormParams(params): FormParams,
) -> Response {
    start(&state, user, jar, params).await.unwrap_or_else(IntoResponse::into_response)
}

async fn start(
    state: &AppState,
    user: Option<CurrentUser>,
    jar: CookieJar,
    params: Params,
) -> Result<Response, PageError> {
    let (client, request) = match validate(state, &params).await? {
        Ok(valid) => valid,
        Err(redirect) => return Ok(redirect_error(state, &redirect)),
    };
    proceed(state, user, jar, &client, &request, &params, None).await
}

/// Steps 1–3 of the pipeline. The outer error is a page; the inner one a redirect.
async fn validate(
    state: &AppState,
    params: &Params,
) -> Result<Result<(Client, AuthorizationRequest), Box<RedirectError>>, PageError> {
    let client_id = authorize::client_id(params).map_err(|e| PageError::from_oauth(&e))?;
    let Some(client) = state.store.find_client(client_id).await? else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "Unknown app",
            "No app with this client_id is registered here (invalid_client). Its developer may have deleted it.",
        ));
    };
    let redirect = authorize::verify_redirect(params, &client).map_err(|e| PageError::from_oauth(&e))?;
    Ok(authorize::validate(params, &client, redirect, state.scopes.known()).map(|request| (client, request)))
}

fn redirect_error(state: &AppState, error: &RedirectError) -> Response {
    tracing::info!(error = %error.error.code, description = %error.error.description, "authorization request refused");
    crate::metrics::oauth_error(error.error.code.as_str());
    respond(state, &error.redirect, &error.response_params(&state.config.issuer), error.mode)
}

/// Sends the authorization response to the verified redirect URI: a 303 with the parameters in
/// the query, or an auto-submitting form (`response_mode=form_post`).
fn respond(state: &AppState, redirect: &VerifiedRedirect, params: &[(&str, &str)], mode: ResponseMode) -> Response {
    match mode {
        ResponseMode::Query => Redirect::to(&redirect.with_params(params)).into_response(),
        ResponseMode::FormPost => {
            let html = state
                .ui
                .render("form_post.html", context! { action => redirect.as_str(), params => crate::ui::ser(params) });
            match html {
                Ok(html) => ([(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
                Err(err) => PageError::from(err).into_response(),
            }
        }
    }
}

/// Decides login, consent or code, and acts on it.
async fn proceed(
    state: &AppState,
    user: Option<CurrentUser>,
    jar: CookieJar,
    client: &Client,
    request: &AuthorizationRequest,
    params: &Params,
    interaction: Option<&Interaction>,
) -> Result<Response, PageError> {
    let now = now();
    // OIDC Core §3.1.2.1: id_token_hint names the user the app expects.
    let hinted_sub = match &request.id_token_hint {
        None => None,
        Some(hint) => match state.keys.current().verify_own(hint, &state.config.issuer) {
            Some(claims) => claims.get("sub").and_then(|s| s.as_str()).map(str::to_owned),
            None => {
                let error = doorway_core::OAuthError::invalid_request("id_token_hint is not an ID token issued here");
                return Ok(redirect_error(state, &refusal(request, error)));
            }
        },
    };
    let session = user.as_ref().map(|current| SessionState {
        auth_time: current.session.auth_time,
        hint_names_other_user: hinted_sub.as_ref().is_some_and(|sub| *sub != current.user.sub),
        fresh_login: interaction
            .is_some_and(|i| i.login_at.is_some() && i.user_id.as_deref() == Some(&current.user.id)),
    });
    // An app an operator marked first-party needs no consent (prompt=consent still asks).
    let consent = match &user {
        Some(current) => {
            state.store.find_consent_state(&current.user.id, &client.client_id, &current.session.sid).await?
        }
        None => None,
    };
    let mut consent_covers = match &user {
        Some(_) if client.first_party => true,
        Some(_) => consent.as_ref().is_some_and(|granted| request.scopes.is_subset(&granted.scopes)),
        None => false,
    };
    // `orgIds` naming an organization the app was not granted asks the person again.
    if let Some(current) = &user
        && consent_covers
        && !client.first_party
    {
        let asks = orgs::orgs_need_consent(state, &current.user.id, &client.client_id, &request.scopes, params).await?;
        consent_covers = !asks;
    }
    let next = authorize::decide(request, session, consent_covers, now);
    // An app restricted to one organization's members admits no one else: checked once the
    // person is known, before consent, a code, or any other answer (access_denied is the
    // truest one for a non-member, prompt=none included).
    if let Some(current) = &user
        && next != Next::Login
        && !orgs::may_sign_in(state, client, &current.user.id).await?
    {
        if let Some(i) = interaction {
            state.store.delete_interaction(&i.id).await?;
        }
        return not_a_member(state, client, request);
    }
    match next {
        Next::Fail(error) => {
            if let Some(i) = interaction {
                state.store.delete_interaction(&i.id).await?;
            }
            Ok(redirect_error(state, &refusal(request, error)))
        }
        Next::Login => {
            let id = match interaction {
                Some(i) => i.id.clone(),
                None => park(state, client, params, now).await?,
            };
            let mut location = format!("/login?interaction={id}");
            if let Some(hint) = &request.login_hint {
                location.push_str("&login_hint=");
                location.push_str(&url::form_urlencoded::byte_serialize(hint.as_bytes()).collect::<String>());
            }
            Ok(Redirect::to(&location).into_response())
        }
        Next::Consent => {
            let Some(current) = user else {
                return Err(PageError::internal());
            };
            let id = match interaction {
                Some(i) => i.id.clone(),
                None => park(state, client, params, now).await?,
            };
            // The consent form may only be answered by the person it was shown to.
            state.store.mark_interaction_user(&id, &current.user.id).await?;
            let orgs =
                orgs::consent_picker(state, &current.user.id, &client.client_id, &request.scopes, params).await?;
            consent_page(state, jar, &current, client, request, &id, &orgs)
        }
        Next::Issue => {
            let Some(current) = user else {
                return Err(PageError::internal());
            };
            if let Some(i) = interaction {
                state.store.delete_interaction(&i.id).await?;
            }
            issue_code(state, &current, request, consent.as_ref()).await
        }
    }
}

async fn park(state: &AppState, client: &Client, params: &Params, now: i64) -> Result<String, PageError> {
    let id = random_token("");
    state.store.create_interaction(&id, &client.client_id, params.pairs(), now, now + INTERACTION_TTL).await?;
    Ok(id)
}

fn consent_page(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentUser,
    client: &Client,
    request: &AuthorizationRequest,
    interaction: &str,
    orgs: &[orgs::PickerOrg],
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let scopes = crate::ui::ser(state.scopes.for_display(&request.scopes));
    let redirect_host = url::Url::parse(request.redirect.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let html = state.ui.render(
        "consent.html",
        context! {
            current_user => crate::ui::ser(&current.user),
            app => context! {
                name => &client.name, logo_uri => &client.logo_uri, homepage_url => &client.homepage_url,
                policy_uri => &client.policy_uri, tos_uri => &client.tos_uri,
                description => client.description.as_deref().map(consent_description),
            },
            scopes,
            redirect_host,
            csrf_token => csrf,
            interaction,
            orgs => crate::ui::ser(orgs),
        },
    )?;
    Ok((jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// The longest description the consent page shows, in characters.
const CONSENT_DESCRIPTION_MAX: usize = 300;

/// An app's description as the consent page shows it: at most a few lines (the template
/// escapes it; the app's developer chose it).
fn consent_description(description: &str) -> String {
    let mut chars = description.trim().chars();
    let mut shown: String = chars.by_ref().take(CONSENT_DESCRIPTION_MAX).collect();
    if chars.next().is_some() {
        shown = format!("{}…", shown.trim_end());
    }
    shown
}

/// How precisely "last used" is kept on a consent, in seconds.
const LAST_USED_RESOLUTION: i64 = 60;

/// RFC 6749 §4.1.2: a single-use code bound to client, user, redirect URI and PKCE challenge,
/// sent back with `state` and `iss` (RFC 9207).
async fn issue_code(
    state: &AppState,
    current: &CurrentUser,
    request: &AuthorizationRequest,
    known: Option<&ConsentState>,
) -> Result<Response, PageError> {
    let now = now();
    let code = random_token("");
    let record = AuthorizationCode {
        code_hash: hash_secret(&code),
        client_id: request.client_id.clone(),
        user_id: current.user.id.clone(),
        redirect_uri: request.redirect.as_str().to_owned(),
        redirect_uri_sent: request.redirect.was_sent(),
        scope: request.scopes.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
        auth_time: current.session.auth_time,
        created_at: now,
        expires_at: now + state.config.code_ttl,
        sid: Some(current.session.sid.clone()),
    };
    state.store.insert_code(&record).await?;
    // Back-channel logout reaches the apps this session signed in to.
    if !known.is_some_and(|k| k.session_recorded) {
        state.store.record_session_client(&current.session.sid, &request.client_id, &current.user.id, now).await?;
    }
    // "Last used" on the connected-apps page, to the minute (a repeat sign-in writes no more).
    let used_lately = known.and_then(|k| k.last_used_at).is_some_and(|at| now - at < LAST_USED_RESOLUTION);
    if !used_lately {
        state.store.touch_consent(&current.user.id, &request.client_id, now).await?;
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &request.state {
        params.push(("state", s));
    }
    params.push(("iss", &state.config.issuer));
    Ok(respond(state, &request.redirect, &params, request.response_mode))
}

/// A person outside the organization an app is restricted to: `access_denied`, shown as a page
/// that leads back to the app with it (straight back under `prompt=none`, which shows no page).
fn not_a_member(state: &AppState, client: &Client, request: &AuthorizationRequest) -> Result<Response, PageError> {
    let org = client.authorized_org.as_deref().unwrap_or_default();
    tracing::info!(client_id = %client.client_id, org, "sign-in refused: not a member of the app's organization");
    let description = format!("only members of the organization {org} may sign in to this app");
    let denied = refusal(request, doorway_core::OAuthError::new(doorway_core::ErrorCode::AccessDenied, description));
    if request.prompt.none {
        return Ok(redirect_error(state, &denied));
    }
    crate::metrics::oauth_error(denied.error.code.as_str());
    orgs::restricted_page(state, client, &denied)
}

/// An error for a validated request, travelling the way the request asked.
fn refusal(request: &AuthorizationRequest, error: doorway_core::OAuthError) -> RedirectError {
    RedirectError {
        redirect: request.redirect.clone(),
        state: request.state.clone(),
        error,
        mode: request.response_mode,
    }
}

#[derive(Deserialize)]
pub struct InteractionQuery {
    interaction: String,
}

async fn load_interaction(state: &AppState, id: &str) -> Result<Interaction, PageError> {
    state.store.find_interaction(id, now()).await?.ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "This sign-in request has expired",
            "Go back to the app you came from and start signing in again.",
        )
    })
}

/// Continues a parked request after the person signed in.
pub async fn resume(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    crate::http::form::TypedQuery(query): crate::http::form::TypedQuery<InteractionQuery>,
) -> Result<Response, PageError> {
    let interaction = load_interaction(&state, &query.interaction).await?;
    let params = Params::new(interaction.params()?);
    // The app's registration may have changed while the person was signing in: validate again.
    let (client, request) = match validate(&state, &params).await? {
        Ok(valid) => valid,
        Err(redirect) => return Ok(redirect_error(&state, &redirect)),
    };
    proceed(&state, user, jar, &client, &request, &params, Some(&interaction)).await
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf_token: Option<String>,
    interaction: String,
    decision: String,
    /// The organization picker's boxes: `org_<sub>` for each one ticked.
    #[serde(flatten)]
    ticked: std::collections::BTreeMap<String, String>,
}

/// The person's answer on the consent page.
pub async fn consent(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    origin: crate::audit::Origin,
    PageForm(form): PageForm<ConsentForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let interaction = load_interaction(&state, &form.interaction).await?;
    let Some(current) = user else {
        return Ok(Redirect::to(&format!("/login?interaction={}", interaction.id)).into_response());
    };
    if interaction.user_id.as_deref() != Some(current.user.id.as_str()) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "This request belongs to another account",
            "Sign in again from the app you came from.",
        ));
    }
    let params = Params::new(interaction.params()?);
    let (client, request) = match validate(&state, &params).await? {
        Ok(valid) => valid,
        Err(redirect) => return Ok(redirect_error(&state, &redirect)),
    };
    let allow = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return Err(PageError::bad_request("Choose Allow or Deny.")),
    };
    if allow {
        // The page may have stayed open a long time: a sign-in that grew older than max_age (or
        // a prompt=login not yet honoured) must be redone before a code is issued.
        let session = SessionState {
            auth_time: current.session.auth_time,
            fresh_login: interaction.login_at.is_some(),
            hint_names_other_user: false,
        };
        if authorize::decide(&request, Some(session), true, now()) == Next::Login {
            return Ok(Redirect::to(&format!("/login?interaction={}", interaction.id)).into_response());
        }
        // Membership may have ended while the page was open.
        if !orgs::may_sign_in(&state, &client, &current.user.id).await? {
            state.store.delete_interaction(&interaction.id).await?;
            return not_a_member(&state, &client, &request);
        }
    }
    // Single use: of two submissions of one form, only the first acts.
    if !state.store.delete_interaction(&interaction.id).await? {
        return Err(PageError::bad_request("This request was already answered."));
    }
    if allow {
        state.store.grant_consent(&current.user.id, &client.client_id, &request.scopes, now()).await?;
        let (user_id, client_id) = (&current.user.id, &client.client_id);
        orgs::save_consent_choice(&state, user_id, client_id, &request.scopes, &params, &form.ticked).await?;
        let event = crate::audit::Event::new(crate::audit::kind::CONSENT_GRANTED)
            .by_user(&current.user.id)
            .client(&client.client_id)
            .detail(serde_json::json!({ "scope": request.scopes.to_string() }));
        crate::audit::record(&state, &origin, event, now()).await;
        issue_code(&state, &current, &request, None).await
    } else {
        let denied =
            doorway_core::OAuthError::new(doorway_core::ErrorCode::AccessDenied, "the user denied the request");
        Ok(redirect_error(&state, &refusal(&request, denied)))
    }
}
