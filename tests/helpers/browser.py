#!/usr/bin/python3
"""Drive headless chromium for the web tests, through the DevTools protocol
on a pipe (--remote-debugging-pipe: JSON messages ended by NUL on fds 3
and 4, no websocket library needed).

  browser.py [--screenshot PNG] [--timeout S] [--width PX] [--fits]
             [--axe AXE.MIN.JS] URL [CONDITION]

Loads URL in a real browser (scripts run, Server-Sent Events stream) and
waits until the JavaScript expression CONDITION is true (default: the
page has loaded), polling every 50 ms in real time; then prints the
page's DOM (document.documentElement.outerHTML) and, with --screenshot,
saves a PNG of it (the whole page, not only what the window shows).

  --width PX   a window PX wide, a phone's, instead of 1280 px
  --fits       the page must not scroll sideways: document.documentElement
               .scrollWidth <= innerWidth; else prints what sticks out
  --axe FILE   runs axe-core (FILE: its axe.min.js) on the page and prints
               each serious or critical violation, with its nodes

Exit 0 when all held, 1 on timeout (the DOM is printed anyway), 2 on a
browser failure, 3 when axe-core found serious or critical violations,
4 when the page is wider than the screen.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="runner-chromium.")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # the child gets them as fds 3 (commands) and 4 (replies)
        def fds():
            # out of the way first: a pipe may itself be fd 3 or 4
            r, w = os.dup(to_chrome_r) + 100, os.dup(from_chrome_w) + 100
            os.dup2(to_chrome_r, r)
            os.dup2(from_chrome_w, w)
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)
        args = [shutil.which("chromium") or "chromium", "--headless",
                "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "--window-size=1280,1000",
                "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=(None if os.environ.get("BROWSER_DEBUG") else subprocess.DEVNULL),
                                     close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while True:
            while b"\0" not in self.buf:
                if time.monotonic() > end:
                    raise RuntimeError("no reply to " + method)
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium went away")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(method + ": " + str(reply["error"]))
                return reply.get("result", {})

    def open(self, url, width=None):
        target = self.send("Target.createTarget", {"url": "about:blank"},
                           session=False)["targetId"]
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        if width:
            # not "mobile": a phone's browser widens its layout to a page
            # that does not fit, and innerWidth with it, which would hide
            # the very thing --fits looks for
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": 860,
                       "deviceScaleFactor": 1, "mobile": False})
        # axe-core is added by the test, which the page's own
        # Content-Security-Policy would refuse
        self.send("Page.setBypassCSP", {"enabled": True})
        self.send("Page.navigate", {"url": url})

    def eval(self, expression, wait=False):
        r = self.send("Runtime.evaluate",
                      {"expression": expression, "returnByValue": True,
                       "awaitPromise": wait}, timeout=60)
        # a condition on what is not there yet is false; the scripts
        # the tests add must run
        if wait and "exceptionDetails" in r:
            raise RuntimeError("page script: %s" % json.dumps(
                r["exceptionDetails"])[:2000])
        return r.get("result", {}).get("value")

    def screenshot(self, path):
        # the whole page: the layout's size, not the window's
        m = self.send("Page.getLayoutMetrics")
        size = m.get("cssContentSize") or m["contentSize"]
        png = self.send("Page.captureScreenshot",
                        {"format": "png", "captureBeyondViewport": True,
                         "clip": {"x": 0, "y": 0, "scale": 1,
                                  "width": size["width"],
                                  "height": min(size["height"], 8000)}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(png["data"]))


    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# What sticks out of a page that scrolls sideways: the elements whose
# right edge is past the screen's, outermost first.
FITS = """(function(){
var d = document.documentElement, w = window.innerWidth;
if (d.scrollWidth <= w) return null;
var out = [];
document.querySelectorAll('body *').forEach(function(e){
  var r = e.getBoundingClientRect();
  if (r.right > w + 0.5 && out.length < 8 &&
      !(e.parentElement && e.parentElement.getBoundingClientRect().right > w + 0.5))
    out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') +
      ' right=' + Math.round(r.right));
});
return 'scrollWidth ' + d.scrollWidth + ' > innerWidth ' + w + ': ' + out.join(', ');
})()"""

AXE_RUN = """axe.run(document, {resultTypes: ['violations']}).then(function(r){
return r.violations.filter(function(v){
  return v.impact === 'serious' || v.impact === 'critical'; }).map(function(v){
  return {id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map(function(n){
            return n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' '); })};
});})"""

def main():
    args = sys.argv[1:]
    shot, timeout, width, fits, axe = None, 20.0, None, False, None
    while args and args[0].startswith("--"):
        if args[0] == "--screenshot":
            shot = args[1]
            args = args[2:]
        elif args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--width":
            width = int(args[1])
            args = args[2:]
        elif args[0] == "--fits":
            fits = True
            args = args[1:]
        elif args[0] == "--axe":
            axe = args[1]
            args = args[2:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    url = args[0]
    condition = args[1] if len(args) > 1 else "true"
    b = Browser()
    held = False
    rc = 0
    try:
        b.open(url, width)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if b.eval("document.readyState === 'complete' && !!(%s)"
                      % condition):
                held = True
                break
            time.sleep(0.05)
        print(b.eval("document.documentElement.outerHTML"))
        if fits:
            wide = b.eval(FITS)
            if wide:
                print("browser.py: %s: the page scrolls sideways: %s"
                      % (url, wide), file=sys.stderr)
                rc = 4
        if axe:
            with open(axe, encoding="utf-8") as f:
                b.eval(f.read())
            found = b.eval(AXE_RUN, wait=True)
            for v in found or []:
                print("browser.py: %s: axe %s (%s): %s" % (url, v["id"],
                      v["impact"], v["help"]), file=sys.stderr)
                for n in v["nodes"]:
                    print("    %s" % n, file=sys.stderr)
            if found:
                rc = 3
        if shot:
            b.screenshot(shot)
    except Exception as e:
        print("browser.py: %s" % e, file=sys.stderr)
        return 2
    finally:
        b.close()
    return rc if held and rc else (0 if held else 1)


if __name__ == "__main__":
    sys.exit(main())
