#!/usr/bin/env python3
"""The CMS side of scripts/load: posts signed review webhooks at a steady
rate and samples the server's resident memory.

    load-driver.py BASE_URL SECRET RATE SECONDS PID

Prints one JSON object: reviews sent and accepted, the achieved rate,
webhook latency percentiles, resident memory samples (MB, every 10 s), and
how long after the last webhook its review showed in /feeds/all.rss.
"""
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.error
import urllib.request

base, secret, rate, seconds, pid = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]


def rss_mb():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


samples = []
done = threading.Event()


def sample():
    while not done.is_set():
        samples.append(round(rss_mb(), 1))
        done.wait(10)


def review(n):
    return json.dumps({
        "action": "published",
        "review": {
            "id": f"load-{n}",
            "url": f"https://films.example/reviews/load-{n}",
            "headline": f"Load review {n} – a steady stream",
            "standfirst": "<p>One of many.</p>",
            "body_html": "<p>" + "A paragraph of criticism. " * 60 + "</p>",
            "section": "In Cinemas",
            "author": "Ada Lee",
            "rating": 1 + n % 5,
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "film": {"title": f"Film {n}", "year": 2026},
        },
    })


def post(n):
    body = review(n)
    stamp = str(int(time.time()))
    signature = hmac.new(secret, f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{base}/webhooks/cms", data=body.encode(), method="POST",
        headers={"X-Marquee-Timestamp": stamp, "X-Marquee-Signature": f"sha256={signature}",
                 "Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            ok = response.status < 300
    except urllib.error.HTTPError:
        ok = False
    return ok, time.perf_counter() - started


threading.Thread(target=sample, daemon=True).start()
latencies, accepted, n = [], 0, 0
start = time.perf_counter()
while time.perf_counter() - start < seconds:
    due = start + n / rate
    if due > time.perf_counter():
        time.sleep(due - time.perf_counter())
    ok, latency = post(n)
    accepted += ok
    latencies.append(latency)
    n += 1
sent_for = time.perf_counter() - start

last = f"/reviews/load-{n - 1}<"
waited = time.perf_counter()
lag = None
while time.perf_counter() - waited < 120:
    if last in urllib.request.urlopen(f"{base}/feeds/all.rss", timeout=30).read().decode():
        lag = round(time.perf_counter() - waited, 2)
        break
    time.sleep(0.1)
done.set()
samples.append(round(rss_mb(), 1))

latencies.sort()
pct = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)
print(json.dumps({
    "reviews_sent": n, "accepted": accepted, "seconds": round(sent_for, 1),
    "achieved_per_second": round(n / sent_for, 1),
    "webhook_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
    "rss_mb": samples, "last_review_in_feed_after_s": lag,
}))
if lag is None:
    sys.exit("the last review did not reach the feed within 120 s")
