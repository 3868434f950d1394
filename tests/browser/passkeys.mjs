// Passkeys in a real Chromium with virtual authenticators (Chrome DevTools Protocol, WebAuthn
// domain: internal, CTAP2, resident keys, user verification):
//   sign up -> add a passkey on authenticator A ("Laptop") -> add one on authenticator B
//   ("Phone") -> rename "Phone" -> remove "Laptop" -> sign out -> "Sign in with a passkey"
//   alone (no username) lands signed in -> sign in through an app's /oauth/authorize with the
//   passkey, consent, and the app exchanges the code -> the removed passkey is refused.
// A test relying party runs in this process on --app-port; tests/e2e.sh registers it with the
// CLI and passes its credentials. The issuer must be a domain name (http://localhost:PORT):
// WebAuthn forbids IP addresses as RP IDs.
//
// Usage (tests/e2e.sh does this):
//   node passkeys.mjs --issuer http://localhost:PORT --username u --password PW \
//     --client-id ID --client-secret S --app-port P [--out DIR]

import { createServer } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { eq, redeemCode, runInBrowser, signUp, testArgs, watchdog } from "./harness.mjs";

const args = testArgs(
  {
    "client-id": { type: "string" },
    "client-secret": { type: "string" },
    "app-port": { type: "string" },
    // Optional: the binary and data dir of the server under test, to disable the account at the end.
    doorway: { type: "string" },
    "data-dir": { type: "string" },
  },
  ["client-id", "client-secret", "app-port"],
);
watchdog(150);

const issuer = args.issuer;
const outDir = args.out || mkdtempSync(join(tmpdir(), "doorway-e2e-shots-"));

// --- The test relying party: exchanges the code it receives, reads userinfo ------------------
const redirect = `http://127.0.0.1:${args["app-port"]}/callback`;
const app = { clientId: args["client-id"], secret: args["client-secret"], redirect };
const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname !== "/callback") {
    res.writeHead(404).end();
    return;
  }
  const result = { state: url.searchParams.get("state"), error: url.searchParams.get("error") };
  const code = url.searchParams.get("code");
  try {
    if (code) {
      const { status, userinfo } = await redeemCode(issuer, app, code);
      result.token_status = status;
      if (userinfo) result.userinfo = userinfo;
    }
  } catch (e) {
    result.rp_error = String(e);
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(result));
});
await new Promise((resolve) => server.listen(Number(args["app-port"]), "127.0.0.1", resolve));
console.log(`test relying party at ${redirect}`);

const AUTHENTICATOR = {
  protocol: "ctap2",
  transport: "internal",
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

async function addPasskey(page, name) {
  await page.goto(`${issuer}/settings/passkeys`);
  await page.locator("#passkey-add").waitFor({ state: "visible" });
  await page.fill("#passkey-name", name);
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get("done") === "added"),
    page.getByRole("button", { name: "Add a passkey" }).click(),
  ]);
  eq(`"${name}" is listed`, await page.locator(".passkey-name", { hasText: name }).count(), 1);
}

async function signOut(page) {
  await page.goto(`${issuer}/logout`);
  await Promise.all([page.waitForURL((u) => u.pathname === "/login"), page.click("form[action='/logout'] button[type=submit]")]);
}

async function main(page, context) {
  // A virtual authenticator answers a conditional (autofill) request at once, so the login page
  // would sign in before anyone clicks. To test the button alone, the test switches autofill
  // off (the page then behaves as in a browser without conditional mediation) except in the
  // step that tests autofill itself.
  await context.addInitScript(() => {
    if (sessionStorage.getItem("test-no-autofill") === "1" && window.PublicKeyCredential) {
      window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });
  const autofill = (on) => page.evaluate((v) => sessionStorage.setItem("test-no-autofill", v), on ? "0" : "1");

  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId: laptop } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: AUTHENTICATOR });

  // 1. Sign up.
  await signUp(page, issuer, args.username, args.password);
  await autofill(false);

  // 2. Two passkeys, one per authenticator (an authenticator holds one passkey per account:
  //    Doorway excludes the credentials it already has).
  await addPasskey(page, "Laptop");
  const { credentials: laptopCreds } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: laptop });
  eq("the laptop's passkey is discoverable (a resident key)", laptopCreds[0]?.isResidentCredential, true);
  eq("its RP ID is the issuer's host", laptopCreds[0]?.rpId, new URL(issuer).hostname);
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: laptop });
  const { authenticatorId: phone } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: AUTHENTICATOR });
  await addPasskey(page, "Phone");
  eq("two passkeys are listed", await page.locator(".passkey").count(), 2);

  // 3. Rename "Phone", remove "Laptop".
  const phoneItem = page.locator(".passkey", { has: page.locator(".passkey-name", { hasText: "Phone" }) });
  await phoneItem.locator("input[name=name]").fill("My phone");
  await Promise.all([page.waitForURL((u) => u.searchParams.get("done") === "renamed"), phoneItem.getByRole("button", { name: "Rename" }).click()]);
  eq("the new name is shown", await page.locator(".passkey-name", { hasText: "My phone" }).count(), 1);
  const laptopItem = page.locator(".passkey", { has: page.locator(".passkey-name", { hasText: "Laptop" }) });
  await Promise.all([page.waitForURL((u) => u.searchParams.get("done") === "removed"), laptopItem.getByRole("button", { name: /Remove/ }).click()]);
  eq("one passkey is left", await page.locator(".passkey").count(), 1);
  const shot = join(outDir, "passkeys-settings.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot (passkeys settings): ${shot}`);

  // 4. Sign out, then sign in with the passkey button alone (no username typed).
  await signOut(page);
  eq("the username field offers passkeys in autofill", await page.getAttribute("#username", "autocomplete"), "username webauthn");
  const button = page.locator("#passkey-signin");
  await button.waitFor({ state: "visible" });
  const loginShot = join(outDir, "login-with-passkey.png");
  await page.screenshot({ path: loginShot, fullPage: true });
  console.log(`screenshot (login page with the passkey button): ${loginShot}`);
  await Promise.all([page.waitForURL((u) => u.pathname === "/account"), button.click()]);
  eq("signed in as the account", (await page.locator(".topbar nav a").first().textContent()).trim(), args.username);
  await page.goto(`${issuer}/settings/passkeys`);
  eq("the passkey shows when it was last used", await page.locator(".passkey", { hasText: "Last used" }).count(), 1);

  // 4b. Autofill (conditional mediation): the login page signs in with the passkey the browser
  //     offers under the username field, without the button.
  await signOut(page);
  await autofill(true);
  await Promise.all([page.waitForURL((u) => u.pathname === "/account"), page.goto(`${issuer}/login`)]);
  eq("autofill signed in as the account", (await page.locator(".topbar nav a").first().textContent()).trim(), args.username);
  await autofill(false);

  // 5. Sign in to an app with the passkey: /oauth/authorize -> login -> consent -> code.
  await signOut(page);
  const state = randomBytes(12).toString("hex");
  const authorize = new URL(`${issuer}/oauth/authorize`);
  authorize.search = new URLSearchParams({
    client_id: args["client-id"], redirect_uri: redirect, response_type: "code", scope: "openid profile", state,
  }).toString();
  await page.goto(authorize.href);
  await page.waitForURL((u) => u.pathname === "/login" && u.searchParams.has("interaction"));
  await button.waitFor({ state: "visible" });
  await button.click();
  await page.waitForURL((u) => u.href.startsWith(redirect) || u.pathname.startsWith("/oauth/"));
  if (!page.url().startsWith(redirect)) {
    const allow = page.locator("button[name=decision][value=allow]").first();
    await allow.waitFor({ state: "visible" });
    await Promise.all([page.waitForURL((u) => u.href.startsWith(redirect)), allow.click()]);
  }
  const result = JSON.parse((await page.locator("body").textContent()) || "{}");
  eq("the app got its state back", result.state, state);
  eq("the app exchanged the code", result.token_status, 200);
  eq("userinfo names the person", result.userinfo?.preferred_username, args.username);

  // 6. The removed passkey no longer signs in.
  const { credentials: phoneCreds } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: phone });
  await signOut(page);
  await cdp.send("WebAuthn.clearCredentials", { authenticatorId: phone });
  await cdp.send("WebAuthn.addCredential", { authenticatorId: phone, credential: laptopCreds[0] });
  await button.waitFor({ state: "visible" });
  await button.click();
  const error = page.locator("#passkey-error");
  await error.waitFor({ state: "visible" });
  eq("the removed passkey is refused", (await error.textContent()).includes("not registered"), true);
  eq("and the page stays on sign-in", new URL(page.url()).pathname, "/login");

  // 7. A disabled account cannot sign in with its (valid) passkey.
  if (args.doorway && args["data-dir"]) {
    execFileSync(args.doorway, ["--data-dir", args["data-dir"], "users", "disable", args.username], { stdio: "inherit" });
    await cdp.send("WebAuthn.clearCredentials", { authenticatorId: phone });
    await cdp.send("WebAuthn.addCredential", { authenticatorId: phone, credential: phoneCreds[0] });
    await page.goto(`${issuer}/login`);
    await button.waitFor({ state: "visible" });
    await button.click();
    await error.waitFor({ state: "visible" });
    await page.waitForFunction(() => document.getElementById("passkey-error")?.textContent.includes("disabled"));
    eq("a disabled account is refused", (await error.textContent()).trim(), "This account is disabled.");
    eq("and stays signed out", new URL(page.url()).pathname, "/login");
  }
}

await runInBrowser("passkeys", args, outDir, main, { cleanup: () => server.close() });
