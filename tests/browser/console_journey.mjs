// A real Chromium goes through a developer's and a user's journey:
//   sign up -> register an app in the developer console -> read its "Sign in with" snippet ->
//   sign in through that app (a tiny relying party in this process exchanges the code) ->
//   see it under /settings/connected-applications -> revoke -> the next sign-in asks for consent
//   again; then rotate the secret and see the old one refused at the token endpoint while the
//   new one works. Screenshots of the consent page in dark mode and on a 375 px wide screen are
//   written to --out and their paths printed.
//
// Uses playwright-core with Debian's /usr/bin/chromium (never a downloaded browser).
//
// Usage (tests/e2e.sh does this):
//   node console_journey.mjs --issuer http://127.0.0.1:PORT --username erin --password PW [--out DIR]

import { createServer } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { eq, must, redeemCode, runInBrowser, signUp, testArgs, watchdog } from "./harness.mjs";

const args = testArgs();
watchdog(150);

const issuer = args.issuer;
const outDir = args.out || mkdtempSync(join(tmpdir(), "doorway-e2e-shots-"));

// --- The test relying party: a confidential app's server side ----------------------------------
const rp = { clientId: null, secret: null, redirect: null };
const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname !== "/callback") {
    res.writeHead(404).end();
    return;
  }
  const result = { state: url.searchParams.get("state"), iss: url.searchParams.get("iss"), error: url.searchParams.get("error") };
  const code = url.searchParams.get("code");
  try {
    if (code) {
      const { status, tokens, userinfo } = await redeemCode(issuer, rp, code);
      result.token_status = status;
      result.token_error = tokens.error || null;
      if (userinfo) {
        result.has_id_token = Boolean(tokens.id_token);
        result.userinfo = userinfo;
      }
    }
  } catch (e) {
    result.rp_error = String(e);
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><title>Test app</title><h1>Test app</h1><pre id="result">${escapeHtml(JSON.stringify(result))}</pre>`);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
rp.redirect = `http://127.0.0.1:${server.address().port}/callback`;
console.log(`test relying party at ${rp.redirect}`);

async function rpResult(page) {
  await page.waitForURL((u) => u.href.startsWith(rp.redirect));
  const text = (await page.locator("#result").textContent()) || "";
  return JSON.parse(text);
}

const consentAllow = (page) => page.locator("button[name=decision][value=allow]").first();

/// Starts a sign-in from the snippet's link with a fresh state; returns the state.
async function startSignIn(page, link) {
  const state = randomBytes(12).toString("hex");
  await page.goto(link.replace("{STATE}", state));
  return state;
}

async function main(page) {
  // 1. Sign up.
  await signUp(page, issuer, args.username, args.password);

  // 2. Register an app in the console.
  await page.goto(`${issuer}/settings/applications`);
  await page.getByRole("link", { name: "Register an app" }).click();
  await page.fill("#name", "Journey <App>");
  await page.fill("#redirect_uris", rp.redirect);
  // Post/Redirect/Get: the form's POST answers 303 to the app's page, which shows the secret once.
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith("/settings/applications/") && u.searchParams.has("reveal")),
    page.click("button[type=submit]"),
  ]);
  rp.clientId = (await page.locator("#client-id").textContent()).trim();
  rp.secret = (await page.locator("#client-secret").textContent()).trim();
  must("a client id is shown", rp.clientId.length > 10);
  must("the secret is shown once", rp.secret.startsWith("dws_"));
  await page.reload();
  must("a refresh does not show the secret again", !(await page.content()).includes(rp.secret));
  must("a refresh says the secret was shown", await page.locator("#reveal-gone").isVisible());
  await page.goto(`${issuer}/settings/applications`);
  eq("a refresh registers no second app", await page.getByText("Journey <App>").count(), 1);
  await page.goto(`${issuer}/settings/applications/${rp.clientId}`);
  eq("the app name is shown as text", await page.locator("h1 .app-name").textContent(), "Journey <App>");
  const appPage = `${issuer}/settings/applications/${rp.clientId}`;

  // 3. The snippet: copy button (JavaScript) and the link it carries.
  const copy = page.locator("button[data-copy=snippet-markdown]");
  await copy.waitFor({ state: "visible" });
  await copy.click();
  // The label changes once the asynchronous clipboard write has settled: wait for it to change.
  await page
    .waitForFunction((el) => el.textContent.trim() !== "Copy", await copy.elementHandle(), { timeout: 5000 })
    .catch(() => {});
  eq("the copy button reports success", (await copy.textContent()).trim(), "Copied");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const markdown = (await page.locator("#snippet-markdown").textContent()).trim();
  eq("the clipboard holds the Markdown snippet", copied.trim(), markdown);
  const link = markdown.slice(markdown.lastIndexOf("](") + 2, -1);
  console.log(`  snippet link: ${link}`);
  const query = new URL(link).searchParams;
  eq("snippet client_id", query.get("client_id"), rp.clientId);
  eq("snippet redirect_uri", query.get("redirect_uri"), rp.redirect);
  eq("snippet scope", query.get("scope"), "openid profile");
  eq("snippet response_type", query.get("response_type"), "code");
  eq("snippet state placeholder", query.get("state"), "{STATE}");
  const html = (await page.locator("#snippet-html").textContent()).trim();
  must("the HTML snippet links the same place", html.includes(link.replaceAll("&", "&amp;")));

  // 4. Sign in through the app: the consent page (screenshots), then the app's callback.
  let state = await startSignIn(page, link);
  await consentAllow(page).waitFor({ state: "visible" });
  eq("the consent page names the app", (await page.locator(".app-name").first().textContent()).trim(), "Journey <App>");
  await page.emulateMedia({ colorScheme: "dark" });
  const darkShot = join(outDir, "consent-dark.png");
  await page.screenshot({ path: darkShot, fullPage: true });
  console.log(`screenshot (consent page, dark mode): ${darkShot}`);
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 375, height: 812 });
  const narrowShot = join(outDir, "consent-narrow.png");
  await page.screenshot({ path: narrowShot, fullPage: true });
  console.log(`screenshot (consent page, 375 px): ${narrowShot}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  eq("the consent page fits a 375 px screen", overflow <= 0, true);
  await page.setViewportSize({ width: 1100, height: 800 });
  await consentAllow(page).click();
  let result = await rpResult(page);
  eq("state came back", result.state, state);
  eq("iss came back", result.iss, issuer);
  eq("the code exchange succeeded", result.token_status, 200);
  eq("an ID token was issued", result.has_id_token, true);
  eq("userinfo names the person", result.userinfo?.preferred_username, args.username);

  // 5. Connected apps: the app is there; revoke it.
  await page.goto(`${issuer}/settings/connected-applications`);
  const entry = page.locator(".connected-app", { hasText: "Journey <App>" });
  await entry.waitFor({ state: "visible" });
  await Promise.all([page.waitForLoadState("load"), entry.getByRole("button", { name: "Revoke" }).click()]);
  await page.locator("text=Access revoked.").waitFor({ state: "visible" });
  eq("the app is gone from connected apps", await page.locator(".connected-app", { hasText: "Journey <App>" }).count(), 0);

  // 6. The next sign-in asks for consent again.
  state = await startSignIn(page, link);
  await consentAllow(page).waitFor({ state: "visible" });
  eq("consent is asked again after revoking", new URL(page.url()).pathname.startsWith("/oauth/"), true);
  await consentAllow(page).click();
  result = await rpResult(page);
  eq("signing in again works", result.token_status, 200);

  // 7. Rotate the secret: the old one is refused at the token endpoint, the new one works.
  await page.goto(appPage);
  must("the secret is not shown again", !(await page.content()).includes(rp.secret));
  await page.selectOption("#grace", "0");
  await Promise.all([
    page.waitForURL((u) => u.searchParams.has("reveal")),
    page.getByRole("button", { name: "Rotate secret" }).click(),
  ]);
  const newSecret = (await page.locator("#client-secret").textContent()).trim();
  must("a new secret is shown", newSecret.startsWith("dws_") && newSecret !== rp.secret);
  const oldSecret = rp.secret;
  state = await startSignIn(page, link); // consent is remembered: straight back to the app
  result = await rpResult(page);
  eq("the old secret is refused at the token endpoint", `${result.token_status} ${result.token_error}`, "401 invalid_client");
  rp.secret = newSecret;
  state = await startSignIn(page, link);
  result = await rpResult(page);
  eq("the new secret works", result.token_status, 200);
  eq("with the right state", result.state, state);
  must("the old secret is really gone", oldSecret !== rp.secret);
}

await runInBrowser("console_journey", args, outDir, main, {
  // The copy button's check reads the clipboard.
  before: (context) => context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: issuer }),
  cleanup: () => server.close(),
});
