#!/usr/bin/python3
"""Drive headless chromium for the web tests, through the DevTools protocol
on a pipe (--remote-debugging-pipe: JSON messages ended by NUL on fds 3
and 4, no websocket library needed).

  browser.py [--screenshot PNG] [--timeout S] URL [CONDITION]

Loads URL in a real browser (scripts run, Server-Sent Events stream) and
waits until the JavaScript expression CONDITION is true (default: the
page has loaded), polling every 50 ms in real time; then prints the
page's DOM (document.documentElement.outerHTML) and, with --screenshot,
saves a PNG of it. Exit 0 when the condition held, 1 on timeout (the DOM
is printed anyway), 2 on a browser failure.
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

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"},
                           session=False)["targetId"]
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Page.navigate", {"url": url})

    def eval(self, expression):
        r = self.send("Runtime.evaluate",
                      {"expression": expression, "returnByValue": True})
        return r.get("result", {}).get("value")

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


def main():
    args = sys.argv[1:]
    shot, timeout = None, 20.0
    while args and args[0].startswith("--"):
        if args[0] == "--screenshot":
            shot = args[1]
            args = args[2:]
        elif args[0] == "--timeout":
            timeout = float(args[1])
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
    try:
        b.open(url)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if b.eval("document.readyState === 'complete' && !!(%s)"
                      % condition):
                held = True
                break
            time.sleep(0.05)
        print(b.eval("document.documentElement.outerHTML"))
        if shot:
            png = b.send("Page.captureScreenshot", {"format": "png"})["data"]
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png))
    except Exception as e:
        print("browser.py: %s" % e, file=sys.stderr)
        return 2
    finally:
        b.close()
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
