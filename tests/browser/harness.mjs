// What every browser test shares: its arguments, a watchdog so it never hangs the suite, checks
// that are counted and printed one per line, a Chromium that never leaves loopback, the run that
// reports the outcome, the sign-up form, and a relying party's code redemption.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

export const STEP_TIMEOUT = 15000;

// --issuer, --username, --password (required), --out, --chromium, and `extra` options, of which
// those named in `required` are required too.
export function testArgs(extra = {}, required = []) {
  const { values } = parseArgs({
    options: {
      issuer: { type: "string" },
      username: { type: "string" },
      password: { type: "string" },
      out: { type: "string" },
      chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
      ...extra,
    },
  });
  for (const k of ["issuer", "username", "password", ...required]) {
    if (!values[k]) {
      console.error(`missing --${k}`);
      process.exit(2);
    }
  }
  return values;
}

// Fails the test if it has not finished within `seconds`.
export function watchdog(seconds) {
  return setTimeout(() => {
    console.log(`FAIL: browser test did not finish within ${seconds} s`);
    process.exit(1);
  }, seconds * 1000);
}

export const failures = [];

export function eq(what, got, want) {
  if (got === want) console.log(`  ok   ${what} == ${JSON.stringify(want)}`);
  else {
    failures.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    console.log(`  FAIL ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

// A check the rest of the flow depends on: stops the test when it fails.
export function must(what, cond) {
  eq(what, Boolean(cond), true);
  if (!cond) throw new Error(`cannot go on: ${what}`);
}

// Runs `main(page, context)` in Chromium (--chromium) on a fresh profile, every request that
// would leave loopback aborted. `before(context)` runs before the first page is opened. Then:
// a flow error counts as a failure (with a screenshot of the page in `outDir`), `cleanup()`
// runs whatever happened, one line sums up, and the process exits 1 if any check failed.
export async function runInBrowser(name, args, outDir, main, { before, cleanup } = {}) {
  const profileDir = mkdtempSync(join(tmpdir(), "doorway-e2e-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: args.chromium,
      headless: true,
      timeout: 30000,
      viewport: { width: 1100, height: 800 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT);
    await before?.(context);
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
    await main(page, context);
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
    await cleanup?.();
    rmSync(profileDir, { recursive: true, force: true });
  }
  if (failures.length) {
    console.log(`${name}: ${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log(`${name}: all checks passed`);
  process.exit(0);
}

// Signs up through /signup as `username` (address username@example.com) and waits to leave it.
export async function signUp(page, issuer, username, password) {
  await page.goto(`${issuer}/signup`);
  await page.fill("#username", username);
  await page.fill("#email", `${username}@example.com`);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/signup")), page.click("button[type=submit]")]);
}

// What a confidential relying party does with the code it receives: redeems it at the token
// endpoint (client_secret_basic), then, if that worked, reads userinfo with the access token.
export async function redeemCode(issuer, { clientId, secret, redirect }, code) {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64");
  const response = await fetch(`${issuer}/oauth/token`, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirect }),
  });
  const tokens = await response.json();
  if (!response.ok) return { status: response.status, tokens, userinfo: null };
  const userinfo = await fetch(`${issuer}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  return { status: response.status, tokens, userinfo: await userinfo.json() };
}
