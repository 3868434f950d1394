"""huggingface_hub's `attach_huggingface_oauth` (Authlib underneath) signs a user in against Doorway.

A FastAPI app exactly as a Hugging Face Space would write it, configured only through the
environment variables a Space receives, served by uvicorn on loopback. The test then acts as
the browser: GET /oauth/huggingface/login, follow into Doorway, log in, consent, follow back
to the app's callback, and read what the app stored in its session.

Usage (tests/e2e.sh does this):
  python hf_python_oauth.py --issuer http://127.0.0.1:PORT --client-id ID --client-secret S \
      --app-port APP_PORT --username alice --password PW --name "Alice A"
"""

import argparse
import dataclasses
import datetime
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from formflow import Browser, FlowError, sign_in  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--issuer", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--app-port", type=int, required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--name", required=True, help="the user's display name, expected in the `name` claim")
    p.add_argument("--scopes", default="openid profile")
    p.add_argument("--expect-org", help="an organization (name) the user belongs to, expected in user_info.orgs")
    return p.parse_args()


def configure_env(args: argparse.Namespace) -> None:
    # What a Space with `hf_oauth: true` receives. huggingface_hub reads these at import time.
    os.environ["OAUTH_CLIENT_ID"] = args.client_id
    os.environ["OAUTH_CLIENT_SECRET"] = args.client_secret
    os.environ["OAUTH_SCOPES"] = args.scopes
    os.environ["OPENID_PROVIDER_URL"] = args.issuer
    # attach_huggingface_oauth only installs the real OAuth routes when SPACE_ID is set;
    # otherwise it mocks the login with the local HF token. SPACE_HOST is used for its
    # iframe-cookie fallback only.
    os.environ["SPACE_ID"] = "doorway-e2e/hf-python-oauth"
    os.environ["SPACE_HOST"] = f"127.0.0.1:{args.app_port}"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_EXPERIMENTAL_WARNING"] = "1"


def build_app():
    from fastapi import FastAPI, Request
    from huggingface_hub import attach_huggingface_oauth, parse_huggingface_oauth

    app = FastAPI()
    attach_huggingface_oauth(app)

    @app.get("/")
    def whoami(request: Request):
        info = parse_huggingface_oauth(request)
        if info is None:
            return {"logged_in": False}
        data = dataclasses.asdict(info)
        data["access_token_expires_at"] = info.access_token_expires_at.isoformat()
        raw = request.session["oauth_info"]
        return {
            "logged_in": True,
            "oauth_info": data,
            # The claims of the ID token, as validated by Authlib.
            "id_token_claims": raw.get("userinfo"),
            "token_keys": sorted(raw.keys()),
            "token_type": raw.get("token_type"),
            "expires_in": raw.get("expires_in"),
        }

    return app


def free_port_is_listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_app(app, port: int):
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 15
    while time.time() < deadline:
        if server.started and free_port_is_listening(port):
            return server, thread
        time.sleep(0.05)
    raise RuntimeError(f"test app did not start on port {port}")


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


def main() -> int:
    args = parse_args()
    configure_env(args)
    app = build_app()
    server, thread = start_app(app, args.app_port)
    app_origin = f"http://127.0.0.1:{args.app_port}"
    print(f"test app (huggingface_hub attach_huggingface_oauth) on {app_origin}, issuer {args.issuer}")

    browser = Browser()
    c = Checks()
    try:
        before = browser.get(app_origin + "/")
        c.eq("logged_in before sign-in", json.loads(before.body).get("logged_in"), False)

        authorize_urls: list[str] = []

        def stop(url: str) -> bool:
            if url.startswith(args.issuer.rstrip("/") + "/oauth/authorize"):
                authorize_urls.append(url)
            return False

        print("sign-in flow:")
        final_url, resp = sign_in(browser, app_origin + "/oauth/huggingface/login", args.username, args.password, stop=stop)

        # What the library sent to Doorway's authorization endpoint.
        c.true("the app redirected to Doorway's authorization endpoint", bool(authorize_urls))
        if authorize_urls:
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize_urls[0]).query))
            print(f"  authorize request params: {sorted(q)}")
            c.eq("authorize client_id", q.get("client_id"), args.client_id)
            c.true("authorize redirect_uri carries a query string (?_target_url=)", "?_target_url=" in q.get("redirect_uri", ""), q.get("redirect_uri"))
            c.true("authorize request carries a nonce", bool(q.get("nonce")))

        c.true("flow ended on the app", final_url.startswith(app_origin + "/"), f"(ended at {final_url})")
        if resp is None or resp.status != 200:
            raise FlowError("flow did not end on a 200 page:\n" + (resp.describe() if resp else final_url))
        if not final_url.startswith(app_origin):
            raise FlowError("flow ended outside the app:\n" + resp.describe())
        data = json.loads(resp.body)
        print("app session:", json.dumps(data, indent=2, default=str))
        c.eq("logged_in", data.get("logged_in"), True)
        if not data.get("logged_in"):
            raise FlowError("the app's session holds no oauth_info after the callback")

        ui = data["oauth_info"]["user_info"]
        c.eq("user_info.preferred_username", ui.get("preferred_username"), args.username)
        c.eq("user_info.name", ui.get("name"), args.name)
        c.true("user_info.sub is set and is not the username", bool(ui.get("sub")) and ui.get("sub") != args.username, repr(ui.get("sub")))
        c.true("user_info.picture is a URL", str(ui.get("picture") or "").startswith(("http://", "https://")), repr(ui.get("picture")))
        c.eq("user_info.profile", ui.get("profile"), args.issuer.rstrip("/") + "/" + args.username)
        c.true("user_info.is_pro is a bool", isinstance(ui.get("is_pro"), bool), repr(ui.get("is_pro")))
        if args.expect_org:
            # huggingface_hub turns each entry of the `orgs` claim into an OAuthOrgInfo.
            orgs = ui.get("orgs") or []
            org = next((o for o in orgs if o.get("preferred_username") == args.expect_org), None)
            c.true(f"user_info.orgs has {args.expect_org}", org is not None, repr(orgs))
            if org is not None:
                c.true("org.sub is set", bool(org.get("sub")), repr(org.get("sub")))
                c.true("org.name is set", bool(org.get("name")), repr(org.get("name")))
                c.true("org.picture is a URL", str(org.get("picture") or "").startswith(("http://", "https://")), repr(org.get("picture")))
                # Not shared in detail at consent (nothing ticked): no role.
                c.eq("org.role_in_org", org.get("role_in_org"), None)

        info = data["oauth_info"]
        c.true("access_token is set", bool(info.get("access_token")))
        scopes = set((info.get("scope") or "").split())
        c.true("granted scope includes openid and profile", {"openid", "profile"} <= scopes, repr(info.get("scope")))
        exp = datetime.datetime.fromisoformat(info["access_token_expires_at"])
        c.true("access token expires in the future", exp > datetime.datetime.now(), str(exp))
        c.eq("token_type (case-insensitive)", str(data.get("token_type") or "").lower(), "bearer")
        c.true("expires_in is a positive integer", isinstance(data.get("expires_in"), int) and data["expires_in"] > 0, repr(data.get("expires_in")))

        claims = data.get("id_token_claims") or {}
        c.eq("id_token iss", claims.get("iss"), args.issuer)
        c.eq("id_token aud", claims.get("aud"), args.client_id)
        c.eq("id_token sub == user_info.sub", claims.get("sub"), ui.get("sub"))
        c.true("id_token carries the nonce", bool(claims.get("nonce")))

        # A browser drops cookies over 4096 bytes: the Space's session cookie, which holds
        # the whole token response, must fit.
        sizes = [(n, size) for netloc, n, size in browser.set_cookie_sizes if netloc == f"127.0.0.1:{args.app_port}"]
        biggest = max((size for _, size in sizes), default=0)
        c.true("the app's session cookie fits in a browser (<= 4096 bytes)", biggest <= 4096, f"(largest Set-Cookie: {biggest} bytes)")
    except FlowError as e:
        print(f"FLOW ERROR: {e}")
        c.failures.append(str(e).splitlines()[0])
    finally:
        server.should_exit = True
        thread.join(timeout=5)

    if c.failures:
        print(f"hf_python_oauth: {len(c.failures)} check(s) failed")
        return 1
    print("hf_python_oauth: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
