"""huggingface_hub's device login (RFC 8628, what `hf auth login` runs) against Doorway.

The library is configured only through its environment variables (HF_ENDPOINT,
HF_DEVICE_CODE_OAUTH_CLIENT_ID) and runs its own device-login code, unmodified:
`request_device_code()` POSTs {HF_ENDPOINT}/oauth/device with the client_id, then
`poll_device_token()` polls {HF_ENDPOINT}/oauth/token. While it polls, this script acts as the
person: it opens the verification_uri_complete the library got, signs in to Doorway (which sends
it back to /device), confirms the code and clicks Allow. Then it checks the library got a
working token, refreshes it with the library's `refresh_access_token()`, and runs a second
login that the person denies (the library must report access_denied).

`hf auth login` itself then calls the Hub's /api/whoami-v2 to name the stored token: that is a
Hub API, not OAuth, and is not part of this test.

Usage (tests/e2e.sh does this):
  python hf_device_login.py --issuer http://127.0.0.1:PORT --client-id ID --username U --password PW
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from formflow import Browser, FlowError, parse_forms, sign_in  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--issuer", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    return p.parse_args()


def configure_env(args: argparse.Namespace) -> None:
    # huggingface_hub reads these at import time (constants.ENDPOINT, DEVICE_CODE_OAUTH_CLIENT_ID).
    os.environ["HF_ENDPOINT"] = args.issuer
    os.environ["HF_DEVICE_CODE_OAUTH_CLIENT_ID"] = args.client_id
    # Never touch the real token store of whoever runs the tests.
    os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="doorway-e2e-hf-home-")
    os.environ.pop("HF_TOKEN", None)
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


class Checks:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def eq(self, what: str, got, want) -> None:
        if got == want:
            print(f"  ok   {what} == {want!r}")
        else:
            self.failures.append(f"{what}: got {got!r}, want {want!r}")
            print(f"  FAIL {what}: got {got!r}, want {want!r}")

    def true(self, what: str, cond: bool, detail="") -> None:
        if cond:
            print(f"  ok   {what}")
        else:
            self.failures.append(f"{what} {detail}")
            print(f"  FAIL {what} {detail}")


class LibraryLogin:
    """Runs the library's polling in a thread, as `hf auth login` does while the person acts."""

    def __init__(self, device_info) -> None:
        from huggingface_hub.utils._oauth_device import poll_device_token

        self.pending = threading.Event()
        self.pending_count = 0
        self.result = None
        self.error = None

        def on_pending() -> None:
            self.pending_count += 1
            self.pending.set()

        def run() -> None:
            try:
                self.result = poll_device_token(device_info, on_pending=on_pending)
            except Exception as e:  # noqa: BLE001 - reported by the checks
                self.error = e

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait(self, timeout: float) -> None:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise FlowError(f"the library was still polling after {timeout}s")


def answer_on_doorway(browser: Browser, url: str, username: str, password: str, decision: str) -> str:
    """Opens `url` (verification_uri_complete) as a person: sign in, confirm the code, decide.
    Returns the final page's text."""
    final_url, resp = sign_in(browser, url, username, password, stop=lambda u: False, decision=decision)
    if resp is None or resp.status != 200:
        raise FlowError("the device page was not reached:\n" + (resp.describe() if resp else final_url))
    # The entry form, with the code filled in from verification_uri_complete.
    forms = [f for f in parse_forms(resp.text) if f.has_field("user_code")]
    if not forms:
        raise FlowError("no code form on the device page:\n" + resp.describe())
    confirm = browser.submit(resp, forms[0], [])
    if confirm.status != 200:
        raise FlowError("entering the code failed:\n" + confirm.describe())
    decide = next((f for f in parse_forms(confirm.text) if any(n == "decision" for n, _ in f.submit_buttons())), None)
    if decide is None:
        raise FlowError("no Allow/Deny form after entering the code:\n" + confirm.describe())
    done = browser.submit(confirm, decide, [("decision", decision)])
    if done.status != 200:
        raise FlowError("answering failed:\n" + done.describe())
    return done.text


def userinfo(issuer: str, access_token: str) -> dict:
    req = urllib.request.Request(issuer + "/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.load(r)


def main() -> int:
    args = parse_args()
    configure_env(args)
    from huggingface_hub import constants
    from huggingface_hub.errors import DeviceCodeError
    from huggingface_hub.utils._oauth_device import refresh_access_token, request_device_code

    c = Checks()
    issuer = args.issuer.rstrip("/")
    c.eq("library endpoint (HF_ENDPOINT)", constants.ENDPOINT, issuer)
    try:
        print("device login, approved:")
        info = request_device_code()
        print(f"  library got: { {k: v for k, v in info.items() if k != 'device_code'} }")
        c.eq("verification_uri", info["verification_uri"], issuer + "/device")
        c.eq("verification_uri_complete", info["verification_uri_complete"], f"{issuer}/device?user_code={info['user_code']}")
        c.eq("interval", info["interval"], 5)
        c.true("expires_in is positive", int(info["expires_in"]) > 0, repr(info["expires_in"]))

        login = LibraryLogin(info)
        # The library polls at once: wait for its first authorization_pending before approving.
        c.true("the library saw authorization_pending", login.pending.wait(30))
        done = answer_on_doorway(Browser(), info["verification_uri_complete"], args.username, args.password, "allow")
        c.true("the done page says to return to the device", "Return to your device" in done)
        login.wait(60)
        if login.error is not None:
            raise FlowError(f"the library's device login failed: {login.error!r}")
        tokens = login.result or {}
        print(f"  library got token response keys: {sorted(tokens)}")
        c.true("access_token is set", bool(tokens.get("access_token")))
        c.eq("token_type", str(tokens.get("token_type", "")).lower(), "bearer")
        c.true("expires_in is a positive integer", isinstance(tokens.get("expires_in"), int) and tokens["expires_in"] > 0)
        c.true("refresh_token is set (the app may refresh)", bool(tokens.get("refresh_token")))

        me = userinfo(issuer, tokens["access_token"])
        c.eq("userinfo preferred_username with the library's token", me.get("preferred_username"), args.username)

        print("refresh with the library:")
        refreshed = refresh_access_token(tokens["refresh_token"])
        c.true("refresh gives a new access token", bool(refreshed.get("access_token")) and refreshed["access_token"] != tokens["access_token"])
        c.true("refresh rotates the refresh token", bool(refreshed.get("refresh_token")) and refreshed["refresh_token"] != tokens["refresh_token"])
        c.eq("userinfo with the refreshed token", userinfo(issuer, refreshed["access_token"]).get("preferred_username"), args.username)

        print("device login, denied:")
        info = request_device_code()
        login = LibraryLogin(info)
        c.true("the library saw authorization_pending", login.pending.wait(30))
        done = answer_on_doorway(Browser(), info["verification_uri_complete"], args.username, args.password, "deny")
        c.true("the done page says access was denied", "Access denied" in done)
        login.wait(60)
        c.true("the library raised DeviceCodeError", isinstance(login.error, DeviceCodeError), repr(login.error))
        c.eq("the library's error code", getattr(login.error, "error_code", None), "access_denied")
    except FlowError as e:
        print(f"FLOW ERROR: {e}")
        c.failures.append(str(e).splitlines()[0])

    if c.failures:
        print(f"{len(c.failures)} check(s) failed:")
        for f in c.failures:
            print(f"  - {f}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
