// What every browser test shares: its arguments, a watchdog so it never hangs the suite, and
// checks that are counted and printed one per line.

import { parseArgs } from "node:util";

export const STEP_TIMEOUT = 15000;

// --issuer, --username, --password (required), --out, --chromium, and `extra` options.
export function testArgs(extra = {}) {
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
  for (const k of ["issuer", "username", "password"]) {
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
