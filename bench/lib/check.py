#!/usr/bin/env python3
"""One HTTP request whose answer must be right: exits 1 (with the reason) otherwise.

check.py METHOD URL [--basic B64] [--bearer TOKEN] [--cookie C] [--data BODY]
         [--status 200] [--fields a,b] [--true active] [--set-cookie NAME] [--location-param code]
         [--jwt access_token [--jwt-alg ES256]]   (the field is an RFC 9068 JWT access token)
Prints the JSON body (or {"location": ...} for a redirect) on success.
"""
import argparse, base64, json, sys, urllib.error, urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("method"); p.add_argument("url")
    p.add_argument("--basic"); p.add_argument("--bearer"); p.add_argument("--cookie"); p.add_argument("--data")
    p.add_argument("--status", type=int, default=200); p.add_argument("--fields", default="")
    p.add_argument("--true", dest="true_field"); p.add_argument("--set-cookie"); p.add_argument("--location-param")
    p.add_argument("--label", default="")
    p.add_argument("--jwt"); p.add_argument("--jwt-alg")
    a = p.parse_args()
    headers = {}
    if a.basic: headers["Authorization"] = "Basic " + a.basic
    if a.bearer: headers["Authorization"] = "Bearer " + a.bearer
    if a.cookie: headers["Cookie"] = a.cookie
    data = None
    if a.data is not None:
        data = a.data.encode(); headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(a.url, data=data, headers=headers, method=a.method)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        res = opener.open(req, timeout=10); status, body, hdrs = res.status, res.read(), res.headers
    except urllib.error.HTTPError as e:
        status, body, hdrs = e.code, e.read(), e.headers
    except Exception as e:  # connection refused, timeout
        fail(a, f"{a.method} {a.url}: {e}")
    text = body.decode("utf-8", "replace")
    if status != a.status:
        fail(a, f"{a.method} {a.url}: status {status}, expected {a.status}: {text[:300]}")
    if a.set_cookie and not any(v.split("=", 1)[0].strip() == a.set_cookie for v in hdrs.get_all("Set-Cookie") or []):
        fail(a, f"{a.method} {a.url}: no {a.set_cookie} cookie set")
    if 300 <= status < 400:
        loc = hdrs.get("Location", "")
        if a.location_param and f"{a.location_param}=" not in loc:
            fail(a, f"{a.method} {a.url}: redirect without {a.location_param}: {loc}")
        print(json.dumps({"location": loc})); return
    try:
        doc = json.loads(text)
    except ValueError:
        fail(a, f"{a.method} {a.url}: not JSON: {text[:200]}")
    missing = [f for f in a.fields.split(",") if f and f not in doc]
    if missing:
        fail(a, f"{a.method} {a.url}: missing fields {missing}: {text[:300]}")
    if a.true_field and doc.get(a.true_field) is not True:
        fail(a, f"{a.method} {a.url}: {a.true_field} is not true: {text[:300]}")
    if a.jwt:
        check_jwt(a, str(doc.get(a.jwt, "")))
    print(json.dumps(doc))


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def check_jwt(a, token):
    """A compact JWS (three parts) with typ at+jwt, the expected alg, and RFC 9068's claims."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        fail(a, f"{a.jwt} is not a 3-part JWT: {token[:80]}")
    try:
        header, claims = b64json(parts[0]), b64json(parts[1])
    except ValueError as e:
        fail(a, f"{a.jwt}: undecodable JWT: {e}")
    if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
        fail(a, f"{a.jwt}: typ is {header.get('typ')!r}, not at+jwt")
    if a.jwt_alg and header.get("alg") != a.jwt_alg:
        fail(a, f"{a.jwt}: alg is {header.get('alg')!r}, not {a.jwt_alg}")
    missing = [c for c in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti") if c not in claims]
    if missing:
        fail(a, f"{a.jwt}: claims {missing} missing: {claims}")


def fail(a, msg):
    print(f"CHECK FAILED{(' [' + a.label + ']') if a.label else ''}: {msg}", file=sys.stderr)
    sys.exit(1)


main()
