#!/usr/bin/env python3
"""Start-up time: spawn the server command, poll URL every millisecond until it answers 200,
print {"startup_ms", "rss_kb_ready"}, then stop the server (SIGTERM).
Usage: startup.py URL LOG -- COMMAND...  (run it pinned to the load generator's core)."""
import http.client, json, os, signal, subprocess, sys, time, urllib.parse

url, log = sys.argv[1], sys.argv[2]
cmd = sys.argv[sys.argv.index("--") + 1:]
u = urllib.parse.urlsplit(url)
with open(log, "ab") as out:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = t0 + 30
    while True:
        if proc.poll() is not None:
            print(json.dumps({"error": f"server exited with {proc.returncode}"})); sys.exit(1)
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=1)
            c.request("GET", u.path or "/")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.perf_counter() > deadline:
            proc.kill(); print(json.dumps({"error": "not ready after 30 s"})); sys.exit(1)
        time.sleep(0.001)
    ms = (time.perf_counter() - t0) * 1000
    rss = 0
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill(); proc.wait()
print(json.dumps({"startup_ms": round(ms, 1), "rss_kb_ready": rss}))
