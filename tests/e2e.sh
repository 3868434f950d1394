#!/usr/bin/env bash
# End-to-end tests: Hugging Face's own client libraries and a real Chromium sign in against
# a Doorway binary.
#
#   tests/e2e.sh [path/to/doorway] [test-name ...]
#
# The binary defaults to target/debug/doorway. Tests: hf_python_oauth, hf_js_oauth,
# hf_device_login, browser_demo, browser_console, browser_passkeys (all by default). Each test gets a fresh Doorway on a free loopback port with a
# fresh --data-dir, its own user and app created with the CLI; the server is killed afterwards.
# Prints one PASS/FAIL line per test and finally "N passed, N failed"; exits 1 if any failed.
#
# Environment: E2E_VERBOSE=1 prints every test's output (otherwise only on failure);
# E2E_KEEP=1 keeps the work dir (data dirs, logs); E2E_SKIP_INSTALL=1 skips
# scripts/install-test-deps (which is idempotent and quick when all is installed).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-target/debug/doorway}"
[ $# -gt 0 ] && shift
# A relative path is taken from the current directory, else from the repository root.
case "$BIN" in
  /*) ;;
  *) if [ -x "$PWD/$BIN" ]; then BIN="$PWD/$BIN"; else BIN="$ROOT/$BIN"; fi ;;
esac
ALL_TESTS=(hf_python_oauth hf_js_oauth hf_device_login browser_demo browser_console browser_passkeys)
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=("${ALL_TESTS[@]}")

PY="$ROOT/tests/clients/.venv/bin/python"
STARTUP_TIMEOUT=30   # seconds for Doorway to answer discovery
TEST_TIMEOUT=180     # seconds per client run
PASSWORD="e2e-Pa55word-$RANDOM$RANDOM"

if [ ! -x "$BIN" ]; then
  echo "e2e: doorway binary not found or not executable: $BIN" >&2
  echo "0 passed, ${#TESTS[@]} failed"
  exit 1
fi
if [ "${E2E_SKIP_INSTALL:-0}" != 1 ]; then
  if ! install_log="$("$ROOT/scripts/install-test-deps" 2>&1)"; then
    echo "$install_log" >&2
    echo "e2e: scripts/install-test-deps failed" >&2
    echo "0 passed, ${#TESTS[@]} failed"
    exit 1
  fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/doorway-e2e.XXXXXX")"
SHOTS="$(mktemp -d "${TMPDIR:-/tmp}/doorway-e2e-screenshots.XXXXXX")"

# kill_pidfile FILE: stop the Doorway whose pid start_doorway wrote there (TERM, then KILL).
kill_pidfile() {
  local pid
  [ -f "$1" ] || return 0
  pid="$(cat "$1")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$1"
}
cleanup() {
  for f in "$WORK"/*.pid; do kill_pidfile "$f"; done
  if [ "${E2E_KEEP:-0}" = 1 ]; then echo "e2e: work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

json_field() { # json_field FIELD < json
  python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print("" if v is None else v)' "$1"
}

dw() { "$BIN" --data-dir "$DATA" "$@"; }

# new_instance: a fresh data dir and port for the current test.
new_instance() {
  DATA="$(mktemp -d "$WORK/$1.data.XXXX")"
  PORT="$(free_port)"
  ISSUER="http://127.0.0.1:$PORT"
  SERVER_LOG="$WORK/$1.doorway.log"
  PIDFILE="$WORK/$1.pid"
}

# start_doorway [extra serve args]: start and wait until discovery answers 200.
start_doorway() {
  "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" --issuer "$ISSUER" "$@" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  echo "$SERVER_PID" >"$PIDFILE"
  local deadline=$((SECONDS + STARTUP_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "doorway exited during startup; its log:"; sed 's/^/  | /' "$SERVER_LOG"; return 1
    fi
    if curl -fsS -m 2 -o /dev/null "$ISSUER/.well-known/openid-configuration" 2>/dev/null; then
      echo "doorway up at $ISSUER (pid $SERVER_PID, data dir $DATA)"; return 0
    fi
    sleep 0.2
  done
  echo "doorway did not answer $ISSUER/.well-known/openid-configuration within ${STARTUP_TIMEOUT}s"; return 1
}

# create_user USERNAME EMAIL NAME: prints the JSON.
create_user() {
  printf '%s\n' "$PASSWORD" | dw users create --username "$1" --email "$2" --name "$3" --password-stdin --json
}

# ---------------------------------------------------------------------------------------
# Tests. Each runs in a subshell with its output captured; non-zero status = FAIL.
# ---------------------------------------------------------------------------------------

test_hf_python_oauth() {
  set -e
  new_instance hf_python_oauth
  start_doorway
  create_user alice alice@example.com "Alice A"
  dw orgs create acme --admin alice --display-name "Acme Labs" --json
  local app_port app client_id client_secret
  app_port="$(free_port)"
  # Hosted-app (Space) style: any redirect URL under the app's origin, query string included.
  app="$(dw apps create --name "HF Python Space" --redirect-uri "http://127.0.0.1:$app_port" \
    --redirect-policy origin --scopes "openid profile" --json)"
  echo "app: $app"
  client_id="$(json_field client_id <<<"$app")"
  client_secret="$(json_field client_secret <<<"$app")"
  timeout -k 5 "$TEST_TIMEOUT" "$PY" "$ROOT/tests/clients/hf_python_oauth.py" --issuer "$ISSUER" \
    --client-id "$client_id" --client-secret "$client_secret" --app-port "$app_port" \
    --username alice --password "$PASSWORD" --name "Alice A" --scopes "openid profile" --expect-org acme
}

test_hf_js_oauth() {
  set -e
  new_instance hf_js_oauth
  start_doorway
  create_user bob bob@example.com "Bob B"
  local redirect app client_id
  # Nothing listens there: the test stops at the redirect and hands the URL to the library.
  redirect="http://127.0.0.1:$(free_port)/oauth/callback"
  app="$(dw apps create --name "HF JS App" --redirect-uri "$redirect" --public \
    --scopes "openid profile email" --json)"
  echo "app: $app"
  client_id="$(json_field client_id <<<"$app")"
  timeout -k 5 "$TEST_TIMEOUT" node "$ROOT/tests/clients/hf_js_oauth.mjs" --issuer "$ISSUER" \
    --client-id "$client_id" --redirect-url "$redirect" --username bob --password "$PASSWORD" \
    --name "Bob B" --email bob@example.com --scopes "openid profile email"
}

test_hf_device_login() {
  set -e
  new_instance hf_device_login
  start_doorway
  create_user dana dana@example.com "Dana D"
  local app client_id
  # What `hf auth login` talks to: a public app with the device grant. `apps create` requires a
  # redirect URI; the device flow never uses it.
  app="$(dw apps create --name "HF CLI" --redirect-uri "http://127.0.0.1/unused" --public \
    --grant-types "device_code refresh_token" --scopes "openid profile" --json)"
  echo "app: $app"
  client_id="$(json_field client_id <<<"$app")"
  timeout -k 5 "$TEST_TIMEOUT" "$PY" "$ROOT/tests/clients/hf_device_login.py" --issuer "$ISSUER" \
    --client-id "$client_id" --username dana --password "$PASSWORD"
}

test_browser_demo() {
  set -e
  new_instance browser_demo
  start_doorway --demo
  # Sign in as the demo user whose credentials `serve --demo` prints, as a person would;
  # fall back to a user of our own if that output cannot be read.
  local user pass name_arg=()
  user="$(sed -n 's/^[[:space:]]*username:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$SERVER_LOG" | head -n1)"
  pass="$(sed -n 's/^[[:space:]]*password:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$SERVER_LOG" | head -n1)"
  if [ -n "$user" ] && [ -n "$pass" ]; then
    echo "using the demo user printed by serve --demo: $user"
  else
    echo "no demo credentials found in the server output; creating user carol"
    create_user carol carol@example.com "Carol C"
    user=carol pass="$PASSWORD" name_arg=(--name "Carol C")
  fi
  mkdir -p "$SHOTS/browser_demo"
  timeout -k 5 "$TEST_TIMEOUT" node "$ROOT/tests/browser/demo_signin.mjs" --issuer "$ISSUER" \
    --username "$user" --password "$pass" "${name_arg[@]}" --out "$SHOTS/browser_demo"
}

test_browser_console() {
  set -e
  new_instance browser_console
  start_doorway
  # The whole journey happens in the browser: sign-up, the developer console, a test relying
  # party started by the script, connected apps, secret rotation.
  mkdir -p "$SHOTS/browser_console"
  timeout -k 5 "$TEST_TIMEOUT" node "$ROOT/tests/browser/console_journey.mjs" --issuer "$ISSUER" \
    --username "erin$RANDOM" --password "$PASSWORD" --out "$SHOTS/browser_console"
}

test_browser_passkeys() {
  set -e
  new_instance browser_passkeys
  # WebAuthn forbids IP addresses as RP IDs: this server's issuer is a domain name.
  ISSUER="http://localhost:$PORT"
  start_doorway
  local app_port app client_id client_secret
  app_port="$(free_port)"
  app="$(dw apps create --name "Passkey App" --redirect-uri "http://127.0.0.1:$app_port/callback" \
    --scopes "openid profile" --json)"
  echo "app: $app"
  client_id="$(json_field client_id <<<"$app")"
  client_secret="$(json_field client_secret <<<"$app")"
  mkdir -p "$SHOTS/browser_passkeys"
  timeout -k 5 "$TEST_TIMEOUT" node "$ROOT/tests/browser/passkeys.mjs" --issuer "$ISSUER" \
    --username "pat$RANDOM" --password "$PASSWORD" --client-id "$client_id" --client-secret "$client_secret" \
    --app-port "$app_port" --doorway "$BIN" --data-dir "$DATA" --out "$SHOTS/browser_passkeys"
}

# ---------------------------------------------------------------------------------------

passed=0
failed=0
for t in "${TESTS[@]}"; do
  if ! declare -F "test_$t" >/dev/null; then
    echo "FAIL $t (no such test; known: ${ALL_TESTS[*]})"
    failed=$((failed + 1))
    continue
  fi
  out="$WORK/$t.out"
  start=$SECONDS
  ( "test_$t" ) >"$out" 2>&1
  rc=$?
  kill_pidfile "$WORK/$t.pid"
  if [ $rc -eq 0 ]; then
    echo "PASS $t ($((SECONDS - start))s)"
    passed=$((passed + 1))
    if [ "${E2E_VERBOSE:-0}" = 1 ]; then sed 's/^/    /' "$out"; else grep -h '^screenshot' "$out" | sed 's/^/    /'; fi
  else
    echo "FAIL $t ($((SECONDS - start))s, exit $rc)"
    failed=$((failed + 1))
    sed 's/^/    /' "$out"
    log="$WORK/$t.doorway.log"
    if [ -s "$log" ]; then echo "    --- doorway log (last 40 lines) ---"; tail -n 40 "$log" | sed 's/^/    | /'; fi
  fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
