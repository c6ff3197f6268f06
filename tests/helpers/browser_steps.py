#!/usr/bin/python3
"""Drive one page of headless chromium through steps (browser.py's
Browser), for the web tests that act while the page is open.

  browser_steps.py URL < STEPS

Opens URL (1280x800, a laptop's screen, unless a step says otherwise)
and reads one step a line from standard input:

  wait SECONDS EXPR   wait until the JavaScript EXPR is true (polled every
                      50 ms in real time); fails after SECONDS
  check EXPR          EXPR must be true now
  eval EXPR           run EXPR
  sh COMMAND          run COMMAND with bash; it must exit 0
  until SECONDS COMMAND
                      run COMMAND with bash every 50 ms until it exits 0;
                      fails after SECONDS
  size WIDTH HEIGHT   the window's size
  shot PNG            a screenshot of what the window shows
  dom FILE            the page's DOM (outerHTML) into FILE

Lines that are empty or start with '#' are skipped. A failing step is
named on stderr with the page's DOM, its scroll position and size; exit
0 when every step held, 1 when one failed, 2 on a browser failure.
"""
import base64
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser  # noqa: E402


def size(b, w, h):
    b.send("Emulation.setDeviceMetricsOverride",
           {"width": w, "height": h, "deviceScaleFactor": 1,
            "mobile": False})


def where(b):
    return b.eval("JSON.stringify({scrollY: window.scrollY, innerHeight: "
                  "window.innerHeight, scrollHeight: "
                  "document.documentElement.scrollHeight, url: location.href})")


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    steps = [l.rstrip("\n") for l in sys.stdin
             if l.strip() and not l.lstrip().startswith("#")]
    b = Browser()
    try:
        b.open("about:blank")
        size(b, 1280, 800)
        b.send("Page.navigate", {"url": sys.argv[1]})
        end = time.monotonic() + 20
        while b.eval("document.readyState") != "complete":
            if time.monotonic() > end:
                raise RuntimeError("the page did not load in 20 s")
            time.sleep(0.05)
        for n, step in enumerate(steps, 1):
            verb, _, rest = step.strip().partition(" ")
            ok = True
            if verb == "wait":
                secs, _, expr = rest.partition(" ")
                end = time.monotonic() + float(secs)
                while not b.eval("!!(%s)" % expr):
                    if time.monotonic() > end:
                        ok = False
                        break
                    time.sleep(0.05)
            elif verb == "check":
                ok = bool(b.eval("!!(%s)" % rest))
            elif verb == "eval":
                b.eval(rest)
            elif verb == "sh":
                ok = subprocess.call(["bash", "-c", rest]) == 0
            elif verb == "until":
                secs, _, cmd = rest.partition(" ")
                end = time.monotonic() + float(secs)
                while subprocess.call(["bash", "-c", cmd]) != 0:
                    if time.monotonic() > end:
                        ok = False
                        break
                    time.sleep(0.05)
            elif verb == "size":
                w, h = rest.split()
                size(b, int(w), int(h))
            elif verb == "shot":
                png = b.send("Page.captureScreenshot", {"format": "png"})
                with open(rest, "wb") as f:
                    f.write(base64.b64decode(png["data"]))
            elif verb == "dom":
                with open(rest, "w") as f:
                    f.write(b.eval("document.documentElement.outerHTML"))
            else:
                raise RuntimeError("step %d: unknown verb %r" % (n, verb))
            if not ok:
                print("browser_steps.py: step %d failed: %s" % (n, step),
                      file=sys.stderr)
                print("at: %s" % where(b), file=sys.stderr)
                print(b.eval("document.documentElement.outerHTML"),
                      file=sys.stderr)
                return 1
    except Exception as e:
        print("browser_steps.py: %s" % e, file=sys.stderr)
        return 2
    finally:
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
