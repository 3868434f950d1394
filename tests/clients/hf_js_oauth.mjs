// @huggingface/hub's oauthLoginUrl / oauthHandleRedirect sign a user in against Doorway.
//
// The library is used as documented for non-browser contexts: clientId + redirectUrl are
// given explicitly and a `localStorage` object receives the nonce and PKCE code verifier.
// Public client: PKCE S256, no client authentication at the token endpoint (the library
// sends no client_id there at all). The test plays the browser between the two calls.
// Three sign-ins with one cookie jar: consent denied, consent allowed, then again (the
// approved app skips login and consent).
//
// Usage (tests/e2e.sh does this):
//   node hf_js_oauth.mjs --issuer http://127.0.0.1:PORT --client-id ID \
//     --redirect-url http://127.0.0.1:9/callback --username alice --password PW --name "Alice A"

import { parseArgs } from "node:util";
import { oauthLoginUrl, oauthHandleRedirect } from "@huggingface/hub";
import { Browser, FlowError, signIn, describe } from "./formflow.mjs";

const { values: args } = parseArgs({
  options: {
    issuer: { type: "string" },
    "client-id": { type: "string" },
    "redirect-url": { type: "string" },
    username: { type: "string" },
    password: { type: "string" },
    name: { type: "string" },
    email: { type: "string" },
    scopes: { type: "string", default: "openid profile email" },
  },
});
for (const k of ["issuer", "client-id", "redirect-url", "username", "password", "name"]) {
  if (!args[k]) {
    console.error(`missing --${k}`);
    process.exit(2);
  }
}

const failures = [];
function eq(what, got, want) {
  if (got === want) console.log(`  ok   ${what} == ${JSON.stringify(want)}`);
  else {
    failures.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    console.log(`  FAIL ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}
function ok(what, cond, detail = "") {
  if (cond) console.log(`  ok   ${what}`);
  else {
    failures.push(`${what} ${detail}`);
    console.log(`  FAIL ${what} ${detail}`);
  }
}

async function main() {
  const issuer = args.issuer;
  const redirectUrl = args["redirect-url"];
  // A state with characters that must survive the round trip byte-exact (the library wraps
  // it in a JSON string together with its nonce and the redirect URI).
  const appState = 'e2e state: "quotes", &amp; + spaces / ünïcødé ☃';
  const browser = new Browser(); // one cookie jar for the whole test, like one browser
  const atCallback = (u) => u.startsWith(redirectUrl);

  // 1. The user denies consent: the app gets error=access_denied, with state and iss, and
  //    the library reports the error.
  console.log("phase 1: deny consent");
  {
    const storage = {};
    const loginUrl = await oauthLoginUrl({ hubUrl: issuer, clientId: args["client-id"], redirectUrl, scopes: args.scopes, state: appState, localStorage: storage });
    const { url, res } = await signIn(browser, loginUrl, { username: args.username, password: args.password, stop: atCallback, decision: "deny" });
    if (res) throw new FlowError("deny flow did not reach the redirect URI:\n" + describe(res));
    const cb = new URL(url);
    eq("denied: callback error", cb.searchParams.get("error"), "access_denied");
    eq("denied: callback state is byte-exact", cb.searchParams.get("state"), new URL(loginUrl).searchParams.get("state"));
    eq("denied: callback iss", cb.searchParams.get("iss"), issuer);
    ok("denied: callback carries no code", !cb.searchParams.has("code"));
    let err = null;
    try {
      await oauthHandleRedirect({ hubUrl: issuer, redirectedUrl: url, nonce: storage.nonce, codeVerifier: storage.codeVerifier });
    } catch (e) {
      err = e;
    }
    ok("denied: oauthHandleRedirect throws access_denied", err !== null && /access_denied/.test(err.message), String(err?.message));
  }

  // 2. The user allows: the library exchanges the code (PKCE, no client auth) and reads userinfo.
  console.log("phase 2: allow consent");
  const storage = {};
  const loginUrl = await oauthLoginUrl({
    hubUrl: issuer,
    clientId: args["client-id"],
    redirectUrl,
    scopes: args.scopes,
    state: appState,
    localStorage: storage,
  });
  console.log(`oauthLoginUrl -> ${loginUrl}`);
  ok("oauthLoginUrl points at Doorway's authorize endpoint", loginUrl.startsWith(issuer + "/oauth/authorize?"), loginUrl);
  ok("oauthLoginUrl filled localStorage.codeVerifier and nonce", !!storage.codeVerifier && !!storage.nonce);
  const sentState = new URL(loginUrl).searchParams.get("state");

  const { url: callbackUrl, res } = await signIn(browser, loginUrl, { username: args.username, password: args.password, stop: atCallback });
  if (res) throw new FlowError("flow did not reach the redirect URI:\n" + describe(res));
  console.log(`redirected to ${callbackUrl}`);

  const cb = new URL(callbackUrl);
  ok("callback carries a code", !!cb.searchParams.get("code"));
  eq("callback state is byte-exact", cb.searchParams.get("state"), sentState);
  eq("callback iss", cb.searchParams.get("iss"), issuer);

  const result = await oauthHandleRedirect({
    hubUrl: issuer,
    redirectedUrl: callbackUrl,
    nonce: storage.nonce,
    codeVerifier: storage.codeVerifier,
  });
  console.log("oauthHandleRedirect ->", JSON.stringify(result, null, 2));

  const ui = result.userInfo || {};
  eq("userInfo.preferred_username", ui.preferred_username, args.username);
  eq("userInfo.name", ui.name, args.name);
  ok("userInfo.sub is set and is not the username", typeof ui.sub === "string" && ui.sub.length > 0 && ui.sub !== args.username, JSON.stringify(ui.sub));
  ok("userInfo.picture is a URL", /^https?:\/\//.test(ui.picture || ""), JSON.stringify(ui.picture));
  eq("userInfo.profile", ui.profile, issuer + "/" + args.username);
  if (args.scopes.split(" ").includes("email") && args.email) {
    eq("userInfo.email", ui.email, args.email);
    ok("userInfo.email_verified is a bool", typeof ui.email_verified === "boolean", JSON.stringify(ui.email_verified));
  }
  ok("userInfo.orgs is an array", Array.isArray(ui.orgs), JSON.stringify(ui.orgs));
  eq("result.state (the app's own state) round-trips", result.state, appState);
  ok("accessToken is set", typeof result.accessToken === "string" && result.accessToken.length > 0);
  ok("accessTokenExpiresAt is in the future", result.accessTokenExpiresAt instanceof Date && result.accessTokenExpiresAt > new Date(), String(result.accessTokenExpiresAt));
  const granted = new Set((result.scope || "").split(" "));
  ok("granted scope includes openid profile", granted.has("openid") && granted.has("profile"), JSON.stringify(result.scope));

  // The code is single-use: a second exchange must be refused.
  let replay = null;
  try {
    await oauthHandleRedirect({ hubUrl: issuer, redirectedUrl: callbackUrl, nonce: storage.nonce, codeVerifier: storage.codeVerifier });
  } catch (e) {
    replay = e;
  }
  ok("replaying the authorization code is refused", replay !== null, "(the second exchange succeeded)");
  if (replay) console.log(`  (replay error: ${replay.message})`);

  // 3. Signing in again to the app the user already approved: no login (session) and no
  //    consent screen, straight back to the app.
  console.log("phase 3: sign in again (approved app, live session)");
  {
    const storage = {};
    const loginUrl = await oauthLoginUrl({ hubUrl: issuer, clientId: args["client-id"], redirectUrl, scopes: args.scopes, localStorage: storage });
    const { url, res, seen } = await signIn(browser, loginUrl, { username: args.username, password: args.password, stop: atCallback });
    if (res) throw new FlowError("second sign-in did not reach the redirect URI:\n" + describe(res));
    eq("again: login forms shown", seen.login, 0);
    eq("again: consent forms shown", seen.consent, 0);
    const again = await oauthHandleRedirect({ hubUrl: issuer, redirectedUrl: url, nonce: storage.nonce, codeVerifier: storage.codeVerifier });
    eq("again: userInfo.sub is stable", again.userInfo?.sub, ui.sub);
  }
}

try {
  await main();
} catch (e) {
  console.log(`FLOW ERROR: ${e instanceof FlowError ? e.message : e.stack || e}`);
  failures.push(String(e.message || e).split("\n")[0]);
}
if (failures.length) {
  console.log(`hf_js_oauth: ${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("hf_js_oauth: all checks passed");
