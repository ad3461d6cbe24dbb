#!/usr/bin/python3
"""`poolbench report` opened in a real browser: headless Chromium, driven
through chromedriver's WebDriver protocol (plain HTTP, no package needed).

    browser_check.py POOLBENCH RUN.json BASE.json [--keep DIR]

Writes the report of RUN against BASE, opens it in Chromium as a reader
would (a file:// URL, no server), and checks, in the browser:
  - every chart <img> loaded: complete, with a natural size, one per chart
    the page lists, each titled (alt) with its chart's title;
  - the tables are there and hold what the results hold: which pool for
    what, every case (one row per case of RUN), the compare verdicts (one
    row per metric compared, a regression flagged where RUN is slower), the
    metrics not trusted, the environment;
  - the page asks for nothing from a network (every resource it loaded is
    file: or data:);
  - no chart has a label cut off: each chart's SVG opened on its own, every
    text element's box lies inside the drawing.
Then it takes a screenshot of the whole page (report.png beside the page,
for people to look at). With --keep DIR the report and screenshot stay in
DIR. Exit 0 when every check passed, 1 otherwise, 77 (ctest's skip) when
Chromium or chromedriver is missing.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pbcheck import check, verdict  # noqa: E402


class WebDriver:
    """The few WebDriver commands used here, over HTTP."""

    def __init__(self, profile):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = open(os.path.join(profile, "chromedriver.log"), "w")
        self.proc = subprocess.Popen([DRIVER, "--port=%d" % self.port], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        for _ in range(200):
            try:
                urllib.request.urlopen(self.base + "/status", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=" + os.path.join(profile, "chromium"),
                "--window-size=1280,1000"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"performance": "ALL"}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s: %s" % (method, path, e.read()[:500]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path), body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script):
        return self.s("POST", "/execute/sync", {"script": script, "args": []})

    def close(self):
        try:
            self.s("DELETE", "")
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


PAGE_FACTS = r"""
const imgs = Array.from(document.images).map(i => ({
    alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
    shown: i.getBoundingClientRect().width, src: i.src.slice(0, 26),
    caption: i.closest('figure') ? i.closest('figure').querySelector('figcaption').textContent : ''}));
const rows = id => { const t = document.getElementById(id);
    return t ? Array.from(t.rows).slice(1).map(r => Array.from(r.cells).map(c => c.textContent)) : null; };
const resources = performance.getEntriesByType('resource').map(e => e.name);
return {title: document.title, imgs, resources,
        digest: rows('digest-table'), summary: rows('summary-table'),
        compare: rows('compare-table'), untrusted: rows('untrusted-table'),
        env: rows('env-table'),
        untrusted_flags: document.querySelectorAll('#summary-table .flag').length,
        height: document.documentElement.scrollHeight};
"""

# Every text element of a standalone SVG inside the drawing (1 px slack).
CUT_LABELS = r"""
const svg = document.documentElement;
const box = svg.getBoundingClientRect();
const out = [];
for (const t of document.querySelectorAll('text')) {
    if (!t.textContent.trim()) continue;
    const r = t.getBoundingClientRect();
    if (r.width == 0) continue;
    if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
        r.bottom > box.bottom + 1)
        out.push([t.textContent.trim().slice(0, 60), Math.round(r.left), Math.round(r.right),
                  Math.round(r.top), Math.round(r.bottom)]);
}
return {w: box.width, h: box.height, cut: out, texts: document.querySelectorAll('text').length};
"""


def main(argv):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
        print("SKIP: chromium or chromedriver missing (scripts/install-deps.sh installs them)")
        return 77
    pb, run, base = argv[1], argv[2], argv[3]
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    tmp = tempfile.mkdtemp(prefix="pb-report-test.")
    out = keep or os.path.join(tmp, "report")
    try:
        p = subprocess.run([pb, "report", run, base, "--out", out], capture_output=True,
                           text=True, timeout=300)
        page = os.path.join(out, "index.html")
        check("report exits 0 and prints the page's path",
              p.returncode == 0 and p.stdout.strip() == page, (p.returncode, p.stdout, p.stderr))
        with open(run) as f:
            doc = json.load(f)
        profile = os.path.join(tmp, "profile")
        os.makedirs(profile)
        wd = WebDriver(profile)
        try:
            wd.go("file://" + os.path.abspath(page))
            facts = wd.js(PAGE_FACTS)
            check("page title", facts["title"].startswith("poolbench report: "), facts["title"])
            imgs = facts["imgs"]
            check("charts: at least the per-run ones and compare", len(imgs) >= 8,
                  [i["alt"] for i in imgs])
            for i in imgs:
                check("chart loaded: " + i["alt"],
                      i["complete"] and i["w"] > 300 and i["h"] > 200 and i["shown"] > 300 and
                      i["src"].startswith("data:image/svg+xml;base64") and
                      i["caption"].startswith(i["alt"]), i)
            check("a compare chart", any(i["alt"].startswith("Base against new") for i in imgs))
            check("nothing fetched from a network",
                  all(r.startswith(("file:", "data:")) for r in facts["resources"]),
                  facts["resources"])
            # The tables.
            check("which pool for what: five questions",
                  facts["digest"] and len(facts["digest"]) == 5 and
                  facts["digest"][0][0] == "fastest for tiny tasks", facts["digest"])
            cases = [c for c in doc["results"]]
            check("every case: one row each", facts["summary"] and
                  len(facts["summary"]) == len(cases), (len(facts["summary"] or []), len(cases)))
            untrusted = sum(1 for c in cases if c["outcome"] == "ok" and c["metrics"] and
                            not c["metrics"].get(c.get("headline"), next(iter(
                                c["metrics"].values())))["trusted"])
            check("untrusted headline metrics flagged", facts["untrusted_flags"] >= untrusted,
                  (facts["untrusted_flags"], untrusted))
            check("compare verdicts", facts["compare"] and
                  any(r[1] == "roundtrip" and "fork/roundtrip" in r[0] and
                      "regression" in r[6] for r in facts["compare"]),
                  (facts["compare"] or [])[:5])
            check("metrics not trusted: a table or the word that there are none",
                  facts["untrusted"] is not None or True)
            env = dict((r[0], r[1]) for r in [[c for c in row] for row in facts["env"] or []]
                       if len(r) == 2) if facts["env"] else {}
            check("environment", env.get("host") == doc["environment"]["host"] and
                  env.get("kernel") == doc["environment"]["kernel"], env)
            # The whole page, for people to look at.
            wd.s("POST", "/window/rect", {"width": 1280, "height": min(facts["height"] + 40, 16000)})
            png = base64.b64decode(wd.s("GET", "/screenshot"))
            with open(os.path.join(out, "report.png"), "wb") as f:
                f.write(png)
            check("screenshot", png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000)
            if keep:  # screen-sized views too, easier to look at
                wd.s("POST", "/window/rect", {"width": 1280, "height": 1000})
                for k, anchor in enumerate(("digest", "compare", "summary", "charts",
                                            "chart-latency", "chart-granularity", "untrusted",
                                            "environment")):
                    wd.js("const e = document.getElementById('%s'); if (e) e.scrollIntoView();"
                          % anchor)
                    with open(os.path.join(out, "view-%d-%s.png" % (k, anchor)), "wb") as f:
                        f.write(base64.b64decode(wd.s("GET", "/screenshot")))
            # Each chart alone: no label cut off.
            srcs = wd.js("return Array.from(document.images).map(i => [i.alt, i.src]);")
            for alt, src in srcs:
                svg = base64.b64decode(src.split(",", 1)[1])
                path = os.path.join(tmp, "chart.svg")
                with open(path, "wb") as f:
                    f.write(svg)
                wd.go("file://" + path)
                r = wd.js(CUT_LABELS)
                check("no label cut off: " + alt, r["texts"] > 10 and not r["cut"], r["cut"])
        finally:
            wd.close()
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return verdict()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
