#!/usr/bin/python3
"""Check the inline SVG charts of a web page.

  svgcheck.py PAGE.html ID COUNT [CLASS]

Finds <svg id=ID> in PAGE.html, parses it alone with xml.etree (so it is
well-formed XML with its text escaped), checks that it is an SVG with
role=img, an aria-label, a <title> and a <desc>, and that it holds COUNT
elements whose class list has "mark" (and CLASS, when given). Prints what
it found; exit 0 when it holds, 1 when not.
"""
import re
import sys
import xml.etree.ElementTree as E

NS = "{http://www.w3.org/2000/svg}"


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    page, ident, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    want = sys.argv[4] if len(sys.argv) == 5 else None
    text = open(page, encoding="utf-8").read()
    m = re.search(r"<svg[^>]*\bid=['\"]%s['\"].*?</svg>" % re.escape(ident),
                  text, re.S)
    if not m:
        if count == 0:
            print("no svg #%s, as expected" % ident)
            return 0
        print("no <svg id=%s> in %s" % (ident, page))
        return 1
    svg = m.group(0)
    try:
        root = E.fromstring(svg)
    except E.ParseError as e:
        print("svg #%s is not valid XML: %s\n%s" % (ident, e, svg))
        return 1
    bad = []
    if root.tag != NS + "svg":
        bad.append("root is %s" % root.tag)
    if root.get("role") != "img":
        bad.append("no role=img")
    if not root.get("aria-label"):
        bad.append("no aria-label")
    if root.find(NS + "title") is None or not root.find(NS + "title").text:
        bad.append("no <title>")
    if root.find(NS + "desc") is None or not root.find(NS + "desc").text:
        bad.append("no <desc>")
    marks = [e for e in root.iter()
             if "mark" in (e.get("class") or "").split()
             and (want is None or want in (e.get("class") or "").split())]
    if len(marks) != count:
        bad.append("%d marks%s, not %d" % (len(marks),
                   " of class " + want if want else "", count))
    print("svg #%s: %d marks%s; %s" % (ident, len(marks),
          " of class " + want if want else "",
          root.find(NS + "desc").text if root.find(NS + "desc") is not None
          else ""))
    if bad:
        print("svg #%s: %s\n%s" % (ident, "; ".join(bad), svg))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
