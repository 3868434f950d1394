// A real Chromium signs in through Doorway's built-in demo (`doorway serve --demo`):
// /demo -> "Sign in with ..." -> login page -> consent page -> /demo/callback, which shows
// the ID token claims and the userinfo response.
//
// Uses playwright-core with Debian's /usr/bin/chromium (never a downloaded browser) and a
// fresh profile directory. Screenshots of the consent page and the claims page are written
// to --out (default: a new temp dir) and their paths printed.
//
// Usage (tests/e2e.sh does this):
//   node demo_signin.mjs --issuer http://127.0.0.1:PORT --username alice --password PW [--name "Alice A"] [--out DIR]

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STEP_TIMEOUT, eq, runInBrowser, testArgs, watchdog } from "./harness.mjs";

const args = testArgs({ name: { type: "string" } });
watchdog(120);

const outDir = args.out || mkdtempSync(join(tmpdir(), "doorway-e2e-shots-"));

async function readJson(page, selector) {
  const text = (await page.locator(selector).first().textContent({ timeout: STEP_TIMEOUT })) || "";
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${selector} does not hold JSON: ${JSON.stringify(text.slice(0, 500))}`);
  }
}

async function main(page) {
  const issuer = args.issuer;
  await page.goto(issuer + "/demo");
  const signInButton = page
    .getByRole("link", { name: /Sign in with/i })
    .or(page.getByRole("button", { name: /Sign in with/i }))
    .first();
  await signInButton.click();

  // Login page.
  await page.waitForURL((u) => u.pathname.startsWith("/login"));
  const loginForm = page.locator("form:has(input[name=password])").first();
  await loginForm.locator("input[name=username]").fill(args.username);
  await loginForm.locator("input[name=password]").fill(args.password);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith("/login")),
    loginForm.locator("button[type=submit], input[type=submit], button:not([type])").first().click(),
  ]);

  // Consent page.
  const allow = page.locator("button[name=decision][value=allow], input[type=submit][name=decision][value=allow]").first();
  await allow.waitFor({ state: "visible" });
  const consentShot = join(outDir, "consent.png");
  await page.screenshot({ path: consentShot, fullPage: true });
  console.log(`screenshot (consent page): ${consentShot}`);
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith("/demo/callback")), allow.click()]);

  // Claims page.
  await page.locator("#id-token-claims").first().waitFor({ state: "attached" });
  await page.locator("#userinfo").first().waitFor({ state: "attached" });
  const claimsShot = join(outDir, "claims.png");
  await page.screenshot({ path: claimsShot, fullPage: true });
  console.log(`screenshot (claims page): ${claimsShot}`);

  const claims = await readJson(page, "#id-token-claims");
  const userinfo = await readJson(page, "#userinfo");
  console.log("id token claims:", JSON.stringify(claims));
  console.log("userinfo:", JSON.stringify(userinfo));
  eq("id token preferred_username", claims.preferred_username, args.username);
  eq("userinfo preferred_username", userinfo.preferred_username, args.username);
  eq("id token iss", claims.iss, issuer);
  eq("userinfo sub == id token sub", userinfo.sub, claims.sub);
  if (args.name) eq("userinfo name", userinfo.name, args.name);
  const visible = await page.locator("body").innerText();
  eq("the claims page shows the username", visible.includes(args.username), true);
}

await runInBrowser("demo_signin", args, outDir, main);
