#!/usr/bin/env python3
"""Opens a run's explorer.html in headless Chromium, as a reader would from the file system, and
checks it through the DevTools protocol (over a pipe: no network, no extra package):

- no console errors and no uncaught exceptions;
- the page became interactive, and the number of points drawn equals the drawings expected;
- moving the pointer over a point draws that point's drawing in the side panel;
- clicking a legend entry shows that category alone (fewer points drawn), and again shows all;
- finding a key_id shows its drawing, with its reconstruction beside it where it has one.

Saves a screenshot (a drawing and its reconstruction in the panel, where there are any), and prints the page's size and the time to
interactive.

    scripts/check-explorer.py EXPLORER.html [--expect N] [--screenshot PNG] [--chrome PATH]

--expect defaults to the page's own count of drawings. Exits 1 on a failed check, 2 on bad use.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse


def find_chrome(given):
    if given:
        return given
    for c in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(c)
        if p:
            return p
    return None


class Pipe:
    """The DevTools protocol over --remote-debugging-pipe: JSON messages ended by a NUL byte,
    commands on the browser's fd 3, replies and events on its fd 4."""

    def __init__(self, chrome, flags):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # copies first: a pipe end may already be fd 3 or 4, and dup2 onto itself would
            # leave it close-on-exec
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [chrome, "--remote-debugging-pipe", *flags],
            # the child's fds 3 and 4 are made after the fork; close_fds would close them again
            close_fds=False,
            preexec_fn=child_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (did it start?)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page")
    ap.add_argument("--expect", type=int, help="drawings the page must draw")
    ap.add_argument("--screenshot", help="PNG to write [explorer-screenshot.png beside the page]")
    ap.add_argument("--chrome", help="Chromium binary [found on PATH]")
    ap.add_argument("--timeout", type=float, default=90, help="seconds to wait for the page")
    a = ap.parse_args()
    if not os.path.isfile(a.page):
        print(f"check-explorer: {a.page}: no such file", file=sys.stderr)
        return 2
    chrome = find_chrome(a.chrome)
    if not chrome:
        print("check-explorer: no Chromium found (scripts/check-report.sh installs it)", file=sys.stderr)
        return 2
    page = os.path.realpath(a.page)
    shot = os.path.realpath(a.screenshot or os.path.join(os.path.dirname(page), "explorer-screenshot.png"))
    url = "file://" + urllib.parse.quote(page)
    profile = tempfile.mkdtemp()
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", f"--user-data-dir={profile}", "--window-size=1400,900",
        "about:blank",
    ]
    failures = []
    cdp = Pipe(chrome, flags)
    try:
        targets = cdp.send("Target.getTargets")["targetInfos"]
        target = next(t for t in targets if t["type"] == "page")
        s = cdp.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            cdp.send(f"{domain}.enable", session=s)
        cdp.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=s)

        def js(expr):
            r = cdp.send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=s)
            if "exceptionDetails" in r:
                raise RuntimeError(f"{expr}: {r['exceptionDetails'].get('text')}")
            return r["result"].get("value")

        t0 = time.time()
        cdp.send("Page.navigate", {"url": url}, session=s)
        while True:
            state = js("window.explorer ? {ready: explorer.ready, error: explorer.error} : null")
            if state and (state["ready"] or state["error"]):
                break
            if time.time() - t0 > a.timeout:
                failures.append(f"the page was not interactive after {a.timeout:.0f} s")
                break
            time.sleep(0.1)
        wall = time.time() - t0
        info = js("explorer.ready ? {n: explorer.n, drawn: explorer.drawn, t: explorer.timings} : null")
        if state and state.get("error"):
            failures.append(f"the page could not load its data: {state['error']}")
        if info:
            expect = a.expect if a.expect is not None else info["n"]
            if info["drawn"] != expect or info["n"] != expect:
                failures.append(f"points drawn {info['drawn']} (of {info['n']} in the page), expected {expect}")
            # a point near the middle of the map, and the pointer moved onto it
            target_i = js("""(() => {
                const c = document.getElementById('overlay').getBoundingClientRect();
                let best = 0, bd = Infinity;
                for (let i = 0; i < explorer.n; i += Math.max(1, Math.floor(explorer.n / 5000))) {
                  const p = explorer.screenOf(i);
                  const d = (p.x - c.left - c.width / 2) ** 2 + (p.y - c.top - c.height / 2) ** 2;
                  if (d < bd) { bd = d; best = i; }
                }
                return best; })()""")
            pos = js(f"explorer.screenOf({target_i})")
            cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": pos["x"], "y": pos["y"]}, session=s)
            time.sleep(0.3)
            hover = js("({i: explorer.hovered, key: explorer.hoveredKey, strokes: explorer.panelStrokes, "
                       "text: document.getElementById('hover-text').textContent})")
            if hover["i"] is None:
                failures.append("moving the pointer over a point showed no drawing")
            else:
                hp = js(f"explorer.screenOf({hover['i']})")
                if abs(hp["x"] - pos["x"]) > 9 or abs(hp["y"] - pos["y"]) > 9:
                    failures.append(f"the drawing shown is of a point {hp} far from the pointer {pos}")
                if hover["strokes"] < 1:
                    failures.append(f"the hovered drawing {hover['key']} drew no strokes")
                if hover["key"] not in hover["text"]:
                    failures.append("the side panel does not name the hovered key_id")
            # one category alone, then all again
            cats = js("document.querySelectorAll('#legend li[data-category]').length")
            if cats >= 2:
                js("document.querySelector('#legend li[data-category]').click()")
                alone = js("explorer.drawn")
                js("document.querySelector('#legend li.solo').click()")
                back = js("explorer.drawn")
                if not (0 < alone < info["drawn"]) or back != info["drawn"]:
                    failures.append(f"legend: one category alone drew {alone}, all again {back}, of {info['drawn']}")
            # searching a key pins it and shows its drawing
            key = js("explorer.hoveredKey")
            if key and not js(f"explorer.search({json.dumps(key)}) && explorer.hoveredKey === {json.dumps(key)}"):
                failures.append(f"searching {key} did not find it")
            # a drawing with a reconstruction shows both, side by side (the screenshot's view)
            with_recon = js("explorer.withReconstruction")
            if with_recon:
                k = js(f"(explorer.search(explorer.keyOf({with_recon[0]})), explorer.reconShown)")
                if not k:
                    failures.append("a drawing with a reconstruction was shown without it")
            js("explorer.resetView()")  # the whole map in the picture, the found drawing ringed
            png = cdp.send("Page.captureScreenshot", {"format": "png"}, session=s)["data"]
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png))
        time.sleep(0.2)
        js("0")  # collect the events still in the pipe
        for e in cdp.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                failures.append("uncaught exception: " + p["exceptionDetails"].get("exception", {}).get("description", p["exceptionDetails"].get("text", "")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                failures.append("console error: " + " ".join(str(x.get("value", x.get("description", ""))) for x in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                failures.append("console error: " + p["entry"].get("text", ""))
    except Exception as e:  # a failure to drive the browser is a failed check, said plainly
        failures.append(f"{type(e).__name__}: {e}")
        info = None
    finally:
        cdp.close()
        shutil.rmtree(profile, ignore_errors=True)

    size = os.path.getsize(page)
    if failures:
        for f in failures:
            print(f"check-explorer: {f}", file=sys.stderr)
        print(f"check-explorer: FAILED ({page})", file=sys.stderr)
        return 1
    t = info["t"]
    print(f"check-explorer: {info['drawn']} points drawn of {info['n']}; hovered a point and saw its drawing; "
          f"page {size / 1e6:.2f} MB, interactive {t['interactive'] / 1000:.2f} s after its script started "
          f"({wall:.2f} s from navigation); screenshot: {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
