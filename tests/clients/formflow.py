"""A tiny scripted "browser" for end-to-end OAuth tests: stdlib only.

It follows redirects by hand, keeps cookies per origin, and fills the forms it meets the
way a person would: the login form (the one with a password input) gets the username and
password, the consent form (the one with a submit button name="decision") is submitted with
decision=allow. Hidden inputs and the form's action are read from the HTML, never assumed.

Cookies are kept per host:port and sent back regardless of their Secure flag: the test apps
run on plain-http loopback, while huggingface_hub's session cookie is marked Secure
(a browser treats http://127.0.0.1 as a secure context for this, plain clients do not).
Cookie Path and Domain attributes are ignored: every cookie of a host:port goes back to it.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

MAX_STEPS = 25
TIMEOUT = 15.0


class FlowError(AssertionError):
    pass


# --------------------------------------------------------------------------------------
# HTML forms
# --------------------------------------------------------------------------------------


@dataclass
class Form:
    action: str | None
    method: str
    # (name, value, type, checked) for each <input>/<button>/<select>/<textarea> with a name
    fields: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def has_field(self, name: str, type_: str | None = None) -> bool:
        return any(n == name and (type_ is None or t == type_) for n, _, t, _ in self.fields)

    def submit_buttons(self) -> list[tuple[str, str]]:
        return [(n, v) for n, v, t, _ in self.fields if t == "submit"]

    def successful_fields(self) -> list[tuple[str, str]]:
        """The fields a browser would submit (not counting the clicked submit button)."""
        out = []
        for name, value, type_, checked in self.fields:
            if type_ in ("submit", "button", "reset", "image", "file"):
                continue
            if type_ in ("checkbox", "radio") and not checked:
                continue
            out.append((name, value))
        return out


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: list | None = None
        self._select: list | None = None  # [name, first_value, selected_value]

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action"), method=(a.get("method") or "get").lower())
            self.forms.append(self._form)
            return
        if self._form is None or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            type_ = (a.get("type") or "text").lower()
            default = "on" if type_ in ("checkbox", "radio") else ""
            self._form.fields.append((name, a.get("value", default), type_, "checked" in a))
        elif tag == "button" and name:
            type_ = (a.get("type") or "submit").lower()
            self._form.fields.append((name, a.get("value", ""), type_, False))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]
        elif tag == "select" and name:
            self._select = [name, None, None]
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select[1] is None:
                self._select[1] = value
            if "selected" in a:
                self._select[2] = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea[0], self._textarea[1], "textarea", False))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, first, selected = self._select
            value = selected if selected is not None else first
            if value is not None:
                self._form.fields.append((name, value, "select", False))
            self._select = None


def parse_forms(html: str) -> list[Form]:
    p = _FormParser()
    p.feed(html)
    p.close()
    return p.forms


# --------------------------------------------------------------------------------------
# HTTP with a cookie jar
# --------------------------------------------------------------------------------------


@dataclass
class Response:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def describe(self, limit: int = 1500) -> str:
        hdrs = "\n".join(f"  {k}: {v}" for k, v in self.headers)
        return f"HTTP {self.status} for {self.url}\n{hdrs}\n  body: {self.text[:limit]!r}"


class Browser:
    def __init__(self, log=print) -> None:
        self.cookies: dict[str, dict[str, str]] = {}  # "host:port" -> name -> value
        self.log = log
        self.set_cookie_sizes: list[tuple[str, str, int]] = []  # (netloc, name, len of Set-Cookie)

    @staticmethod
    def _netloc(url: str) -> str:
        u = urllib.parse.urlsplit(url)
        return f"{u.hostname}:{u.port or (443 if u.scheme == 'https' else 80)}"

    def _store_cookies(self, url: str, set_cookies: list[str]) -> None:
        jar = self.cookies.setdefault(self._netloc(url), {})
        for sc in set_cookies:
            parts = [p.strip() for p in sc.split(";")]
            if "=" not in parts[0]:
                continue
            name, value = parts[0].split("=", 1)
            self.set_cookie_sizes.append((self._netloc(url), name, len(sc)))
            expired = False
            for attr in parts[1:]:
                k, _, v = attr.partition("=")
                k = k.strip().lower()
                if k == "max-age":
                    try:
                        expired = int(v) <= 0
                    except ValueError:
                        pass
                elif k == "expires":
                    try:
                        expired = parsedate_to_datetime(v).timestamp() < time.time()
                    except (TypeError, ValueError):
                        pass
            if expired:
                jar.pop(name, None)
            else:
                jar[name] = value

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise FlowError(f"refusing to request non-loopback URL {url}")
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=TIMEOUT)
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        hdrs = {"User-Agent": "doorway-e2e/1", "Accept": "text/html,application/json;q=0.9,*/*;q=0.8"}
        hdrs.update(headers or {})
        jar = self.cookies.get(self._netloc(url))
        if jar:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            resp = Response(url, r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        self._store_cookies(url, resp.header_all("Set-Cookie"))
        self.log(f"  {method} {url} -> {resp.status}" + (f" Location: {resp.header('Location')}" if resp.header("Location") else ""))
        return resp

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def submit(self, page: Response, form: Form, extra: list[tuple[str, str]]) -> Response:
        """Submit `form` found on `page`, with `extra` fields overriding/adding values."""
        override = {k for k, _ in extra}
        data = [(k, v) for k, v in form.successful_fields() if k not in override] + extra
        action = urllib.parse.urljoin(page.url, form.action or page.url)
        body = urllib.parse.urlencode(data)
        if form.method == "post":
            u = urllib.parse.urlsplit(page.url)
            return self.request(
                "POST",
                action,
                body=body.encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Origin": f"{u.scheme}://{u.netloc}",
                    "Referer": page.url,
                },
            )
        sep = "&" if "?" in action else "?"
        return self.get(action + sep + body)


# --------------------------------------------------------------------------------------
# The sign-in flow
# --------------------------------------------------------------------------------------


def sign_in(
    browser: Browser,
    start_url: str,
    username: str,
    password: str,
    stop=lambda url: False,
    decision: str = "allow",
) -> tuple[str, Response | None]:
    """Start at start_url and walk redirects, login and consent pages.

    Returns (url, response): the URL where `stop(url)` became true (response None: that URL
    was not fetched), or the first page that is neither a redirect nor a known form.
    """
    url = start_url
    seen = {"login": 0, "consent": 0}
    resp: Response | None = None
    for _ in range(MAX_STEPS):
        if stop(url):
            return url, None
        resp = browser.get(url) if resp is None else resp
        if resp.status in (301, 302, 303, 307, 308):
            loc = resp.header("Location")
            if not loc:
                raise FlowError("redirect without Location:\n" + resp.describe())
            url = urllib.parse.urljoin(resp.url, loc)
            resp = None
            continue
        ctype = resp.header("Content-Type") or ""
        if resp.status != 200 or "html" not in ctype:
            return resp.url, resp
        forms = parse_forms(resp.text)
        login = next((f for f in forms if f.has_field("password")), None)
        consent = next((f for f in forms if any(n == "decision" for n, _ in f.submit_buttons())), None)
        if login is not None:
            seen["login"] += 1
            if seen["login"] > 2:
                raise FlowError("login form shown again after submitting it (bad credentials?):\n" + resp.describe())
            resp = browser.submit(resp, login, [("username", username), ("password", password)])
        elif consent is not None:
            seen["consent"] += 1
            if seen["consent"] > 2:
                raise FlowError("consent form shown again after submitting it:\n" + resp.describe())
            values = [v for n, v in consent.submit_buttons() if n == "decision"]
            if decision not in values:
                raise FlowError(f"consent form has no decision={decision!r} button (has {values}):\n" + resp.describe())
            resp = browser.submit(resp, consent, [("decision", decision)])
        else:
            return resp.url, resp
        # A form POST normally answers with a redirect; a 200 page (e.g. an error, or the
        # next form) is handled by the next iteration.
        url = resp.url
    raise FlowError(f"no end to the redirect chain after {MAX_STEPS} steps (last: {url})")
