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

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { STEP_TIMEOUT, eq, failures, testArgs, watchdog as startWatchdog } from "./harness.mjs";

const args = testArgs({ name: { type: "string" } });
const watchdog = startWatchdog(120);

const outDir = args.out || mkdtempSync(join(tmpdir(), "doorway-e2e-shots-"));
const profileDir = mkdtempSync(join(tmpdir(), "doorway-e2e-chromium-"));
let context;

async function readJson(page, selector) {
  const text = (await page.locator(selector).first().textContent({ timeout: STEP_TIMEOUT })) || "";
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${selector} does not hold JSON: ${JSON.stringify(text.slice(0, 500))}`);
  }
}

async function main() {
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: args.chromium,
    headless: true,
    timeout: 30000,
    viewport: { width: 1100, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context.setDefaultTimeout(STEP_TIMEOUT);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT);
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => console.log(`  [page error] ${e.message}`));
  page.on("console", (m) => m.type() === "error" && console.log(`  [console error] ${m.text()}`));
  page.on("framenavigated", (f) => f === page.mainFrame() && console.log(`  navigated: ${f.url()}`));
  // Everything stays on loopback: abort any request that would leave the machine.
  const loopback = new Set(["127.0.0.1", "localhost", "[::1]"]);
  await context.route((url) => !loopback.has(url.hostname), (route) => {
    console.log(`  [blocked non-loopback request] ${route.request().url()}`);
    return route.abort();
  });

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

try {
  await main();
} catch (e) {
  console.log(`FLOW ERROR: ${e.stack || e}`);
  failures.push(String(e.message || e).split("\n")[0]);
  try {
    const page = context?.pages()[0];
    if (page) {
      const shot = join(outDir, "failure.png");
      await page.screenshot({ path: shot, fullPage: true, timeout: 5000 });
      console.log(`screenshot (at failure, ${page.url()}): ${shot}`);
    }
  } catch {}
} finally {
  await context?.close().catch(() => {});
  rmSync(profileDir, { recursive: true, force: true });
  clearTimeout(watchdog);
}
if (failures.length) {
  console.log(`demo_signin: ${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("demo_signin: all checks passed");
