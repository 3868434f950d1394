#!/usr/bin/env python3
"""bench/run's results.jsonl -> Markdown: figures per server, ratios Doorway/peer, issue 4's
targets. Medians over repetitions; repetitions flagged noisy are dropped when clean ones exist."""
import json
import statistics as st
import sys
from collections import defaultdict

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by = defaultdict(list)
for r in rows:
    by[r["metric"]].append(r)
machine = (by["machine"] or [{}])[0]


def med(xs):
    xs = [x for x in xs if x is not None]
    return st.median(xs) if xs else None


def f(x, fmt="{:,.0f}", none="n/a"):
    return none if x is None else fmt.format(x)


def mib(kb):
    return None if kb is None else kb / 1024


load = defaultdict(list)
for r in by["load"]:
    load[(r["server"], r["workload"])].append(r)
for k, rs in list(load.items()):
    clean = [r for r in rs if not r.get("noisy")]
    load[k] = clean or rs


def fig(server, workload, key):
    return med([r.get(key) for r in load.get((server, workload), [])])


def noisy(server, workload):
    return any(r.get("noisy") for r in load.get((server, workload), []))


na = {(r["server"], r["workload"]): r["reason"] for r in by["na"]}
sign = {r["lib"]: r for r in by["sign_limit"]}
rsa_limit = sign.get("aws-lc-rs", {}).get("rs256_per_s")

LABELS = {
    "discovery": "Discovery document",
    "jwks": "JWKS",
    "cc_opaque": "client_credentials, opaque token",
    "cc_jwt_rs256": "client_credentials, RS256 JWT access token",
    "cc_jwt_es256": "client_credentials, ES256 JWT access token",
    "cc_jwt_eddsa": "client_credentials, EdDSA JWT access token",
    "code_rs256": "Code exchange, RS256 ID token",
    "code_es256": "Code exchange, ES256 ID token",
    "code_eddsa": "Code exchange, EdDSA ID token",
    "refresh": "Refresh-token rotation (ES256 ID token)",
    "userinfo": "Userinfo (valid bearer)",
    "introspect": "Introspection",
    "flow_c1": "Full sign-in flow, concurrency 1 (flows)",
    "flow_c8": "Full sign-in flow, concurrency 8 (flows)",
    "password_login": "Password sign-in (argon2id)",
}
ORDER = list(LABELS)
RATIO_TARGET = {"discovery": 5, "jwks": 5, "introspect": 4, "userinfo": 4, "cc_opaque": 2, "code_es256": 4,
                "code_eddsa": 4, "cc_jwt_es256": 4, "cc_jwt_eddsa": 4, "flow_c1": 5, "flow_c8": 5}
# RS256 workloads are bounded by RSA signing: judged against the signing-only limit instead.
RSA_BOUND = {"code_rs256", "cc_jwt_rs256"}
NON_RSA = {"discovery", "jwks", "cc_opaque", "cc_jwt_es256", "cc_jwt_eddsa", "code_es256", "code_eddsa", "refresh",
           "userinfo", "introspect"}
workloads = [w for w in ORDER if any((s, w) in load for s in ("doorway", "peer"))]
conc = machine.get("conc")

out = []
p = out.append
p(f"### Doorway{' on PostgreSQL' if machine.get('doorway_db') == 'postgres' else ''} vs oidc-provider, run {machine.get('stamp', '?')}" + (" (SMOKE: correctness only, figures meaningless)" if machine.get("smoke") else ""))
p("")
p(f"Machine: {machine.get('nproc')} cores, {machine.get('cpu_model')}, {f(machine.get('mem_mib'))} MiB; "
  f"Linux {machine.get('kernel')}; {machine.get('rustc', '')}; Node {machine.get('node')}; {machine.get('peer')}; {machine.get('wrk')}. "
  f"Doorway {machine.get('doorway_commit')}. Each server pinned to one core, the load generator on the other; "
  f"wrk -t1 -c{conc} (password sign-in: c=4), {machine.get('duration_s')} s per run, median of {machine.get('reps')} "
  "repetitions (Doorway and the peer alternate).")
p("")
DB = machine.get("doorway_db", "sqlite")
STORAGE = ("PostgreSQL (a local server; its backends' CPU is counted as Doorway's and they share Doorway's core)"
           if DB == "postgres" else "SQLite (WAL)")
p(f"**The peer keeps all its state in memory; Doorway persists every code, token, grant and session to {STORAGE} "
  "before answering.** Ratios are Doorway / peer; the main figure is requests (or flows) per server "
  "CPU-second, which holds when the machine is noisy or the load generator saturates.")
if any(w.startswith("cc_jwt") for w in workloads):
    p("")
    p("client_credentials JWT access tokens (RFC 9068) are stored by neither server: each request is client "
      "authentication and one signature with the app's key.")
p("")
p("| workload | Doorway per CPU-s | peer per CPU-s | ratio | target | met |")
p("|---|---:|---:|---:|---|---|")
met_list = []
for w in workloads:
    d, q = fig("doorway", w, "per_cpu_s"), fig("peer", w, "per_cpu_s")
    ratio = d / q if d and q else None
    target, met = "—", ""
    if w in RATIO_TARGET and w.startswith("flow"):
        target = f"≥ 1,000 flows/CPU-s and ≥ {RATIO_TARGET[w]}×"
        ok = d is not None and d >= 1000 and ratio is not None and ratio >= RATIO_TARGET[w]
        met = "yes" if ok else "no"
    elif w in RATIO_TARGET:
        target = f"≥ {RATIO_TARGET[w]}×"
        met = "n/a" if ratio is None else ("yes" if ratio >= RATIO_TARGET[w] else "no")
    elif w in RSA_BOUND and rsa_limit:
        share = d / rsa_limit if d else None
        target = f"≥ 90% of the RS256 signing limit ({rsa_limit:,.0f}/s): {f(share and share * 100, '{:.0f}%')}"
        met = "yes" if share and share >= 0.9 else "no"
    elif w == "password_login":
        target = "report (argon2id m=19456 KiB, t=2, p=1)"
    if met:
        met_list.append((w, met))
    qs = f(q) if (("peer", w) in load) else "n/a"
    if ("peer", w) in na:
        qs = "n/a"
    p(f"| {LABELS[w]} | {f(d)}{' (noisy)' if noisy('doorway', w) else ''} | {qs}{' (noisy)' if noisy('peer', w) else ''} | "
      f"{f(ratio, '{:.2f}×', 'n/a')} | {target} | {met} |")
for (s, w), reason in na.items():
    p(f"\nn/a: {LABELS.get(w, w)} on the {s}: {reason}.")

p("")
p("#### Throughput and latency")
p("")
p("Server busy = server CPU-seconds per second of the run (1.00: its core was saturated; lower: the load "
  "generator, the client's latency or waiting bounded the rate).")
p("")
p(f"| workload | server | req/s | p50 ms | p99 ms | server CPU ms/req | server busy | RSS max MiB | req/s ratio | p99 ≤ 3 ms (c={conc}) |")
p("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for w in workloads:
    for s in ("doorway", "peer"):
        if (s, w) not in load:
            continue
        rps = fig(s, w, "rps")
        other = fig("peer" if s == "doorway" else "doorway", w, "rps")
        ratio = f(rps / other, "{:.2f}×") if s == "doorway" and rps and other else ""
        p99 = fig(s, w, "lat_p99_ms")
        lat_ok = ""
        if s == "doorway" and w in NON_RSA:
            lat_ok = "yes" if p99 is not None and p99 <= 3 else "no"
            met_list.append((f"p99 {w}", lat_ok))
        errs = sum(r.get("err_status", 0) for r in load[(s, w)])
        p(f"| {LABELS[w]} | {s} | {f(rps)} | {f(fig(s, w, 'lat_p50_ms'), '{:.2f}')} | {f(p99, '{:.2f}')} | "
          f"{f(fig(s, w, 'cpu_ms_per_req'), '{:.3f}')} | {f(med([r['server_cpu_s'] / r['duration_s'] for r in load[(s, w)] if r.get('duration_s')]), '{:.2f}')} | {f(mib(max(r['rss_kb_max'] for r in load[(s, w)])), '{:.1f}')} | {ratio} | {lat_ok}"
          f"{' errors: ' + str(errs) if errs else ''} |")

p("")
p("#### Start-up and memory")
p("")
p("| | Doorway | peer | target | met |")
p("|---|---:|---:|---|---|")
su = {s: med([r["startup_ms"] for r in by["startup"] if r["server"] == s]) for s in ("doorway", "peer")}
su_rss = {s: med([r["rss_kb_ready"] for r in by["startup"] if r["server"] == s]) for s in ("doorway", "peer")}
rss = {(r["server"], r["when"]): r["rss_kb"] for r in by["rss"]}


def tgt(v, limit):
    return "" if v is None else ("yes" if v <= limit else "no")


n_su = len([r for r in by["startup"] if r["server"] == "doorway"])
p(f"| start-up to first discovery answer, existing database (median of {n_su}) | {f(su['doorway'], '{:.0f} ms')} | "
  f"{f(su['peer'], '{:.0f} ms')} | ≤ 50 ms | {tgt(su['doorway'], 50)} |")
p(f"| RSS at first answer | {f(mib(su_rss['doorway']), '{:.1f} MiB')} | {f(mib(su_rss['peer']), '{:.1f} MiB')} | | |")
ri, ra = mib(rss.get(("doorway", "idle"))), mib(rss.get(("doorway", "after_suite")))
p(f"| RSS idle (2 s after start) | {f(ri, '{:.1f} MiB')} | {f(mib(rss.get(('peer', 'idle'))), '{:.1f} MiB')} | ≤ 15 MiB | {tgt(ri, 15)} |")
p(f"| RSS after the whole suite | {f(ra, '{:.1f} MiB')} | {f(mib(rss.get(('peer', 'after_suite'))), '{:.1f} MiB')} | ≤ 40 MiB | {tgt(ra, 40)} |")
met_list += [("start-up", tgt(su["doorway"], 50)), ("RSS idle", tgt(ri, 15)), ("RSS after suite", tgt(ra, 40))]

if sign:
    p("")
    p("#### Signing-only limit (one core)")
    p("")
    a = sign.get("aws-lc-rs", {})
    if a:
        p(f"aws-lc-rs (Doorway's library), key parsed once: RS256 {f(a.get('rs256_per_s'))}/s ({a.get('rs256_us')} µs), "
          f"PS256 {f(a.get('ps256_per_s'))}/s, ES256 {f(a.get('es256_per_s'))}/s ({a.get('es256_us')} µs), "
          f"EdDSA {f(a.get('eddsa_per_s'))}/s ({a.get('eddsa_us')} µs).")
    if "openssl" in sign:
        p(f"`openssl speed rsa2048`: {f(sign['openssl'].get('rs256_per_s'))} signs/s.")
    for w, what in (("code_rs256", "RS256 code exchange"), ("cc_jwt_rs256", "RS256 JWT client_credentials")):
        d = fig("doorway", w, "per_cpu_s")
        if d and rsa_limit:
            p(f"Doorway's {what}: {d:,.0f} per CPU-s = {d / rsa_limit * 100:.0f}% of the RS256 signing limit "
              f"(the rest of each request costs {(1 / d - 1 / rsa_limit) * 1e6:,.0f} µs of CPU).")

if by["scale"]:
    p("")
    p("#### Stored tokens: userinfo latency and database size (Doorway, separate instance)")
    p("")
    p("| access tokens stored | database + WAL (after checkpoint) | userinfo req/s | per CPU-s | p50 ms | p99 ms |")
    p("|---:|---:|---:|---:|---:|---:|")
    sc = sorted(by["scale"], key=lambda r: r["access_tokens"])
    for r in sc:
        u = r.get("userinfo") or {}
        p(f"| {r['access_tokens']:,} | {r['db_bytes'] / 1048576:.1f} MiB | {f(u.get('rps'))} | {f(u.get('per_cpu_s'))} | "
          f"{f(u.get('lat_p50_ms'), '{:.2f}')} | {f(u.get('lat_p99_ms'), '{:.2f}')} |")
    if len(sc) >= 2 and sc[-1]["access_tokens"] > sc[0]["access_tokens"]:
        per = (sc[-1]["db_bytes"] - sc[0]["db_bytes"]) / (sc[-1]["access_tokens"] - sc[0]["access_tokens"])
        p("")
        p(f"Database growth: {per:,.0f} bytes per stored access token = **{per * 1e6 / 1048576:,.0f} MiB per million "
          "tokens** (client_credentials tokens, rows and indexes). Tokens live 1 h: the purge job deletes expired rows, "
          "so the database holds about (issuance rate × 1 h) tokens; SQLite reuses the freed pages, the file does not shrink.")
        u0, u1 = sc[0].get("userinfo") or {}, sc[-1].get("userinfo") or {}
        if u0.get("per_cpu_s") and u1.get("per_cpu_s"):
            flat = u1["per_cpu_s"] >= 0.85 * u0["per_cpu_s"] and u1["lat_p99_ms"] <= 1.25 * u0["lat_p99_ms"] + 0.2
            met_list.append(("userinfo flat with stored tokens", "yes" if flat else "no"))
            p(f"Userinfo at {sc[-1]['access_tokens']:,} vs {sc[0]['access_tokens']:,} tokens: "
              f"{u1['per_cpu_s'] / u0['per_cpu_s'] * 100:.0f}% of the throughput per CPU-s, p99 {u1['lat_p99_ms']:.2f} vs "
              f"{u0['lat_p99_ms']:.2f} ms ({'flat' if flat else 'grows'}).")

fails = by["failure"]
if fails:
    p("")
    p("#### Failed checks")
    for r in fails:
        p(f"- {r['what']}")
print("\n".join(out))
