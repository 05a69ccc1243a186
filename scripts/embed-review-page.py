#!/usr/bin/env python3
"""Regenerates Sources/ScoringService/ReviewPage.swift from Sources/ScoringService/ReviewPage/review.html
(run after editing the page): the page as a Swift string, and the Content-Security-Policy that GET /
sends with it, which allows exactly the page's one inline <script> and one inline <style> by their
SHA-256 (no 'unsafe-inline') and the reviewer's own file through blob: URLs."""
import base64
import hashlib
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
html = (root / "Sources/ScoringService/ReviewPage/review.html").read_text()
assert '"""#' not in html and "\\#" not in html, "the page cannot be a Swift raw string"


def only(tag):
    found = re.findall(r"<%s>(.*?)</%s>" % (tag, tag), html, re.S)
    assert len(found) == 1, "the page must have exactly one inline <%s> without attributes" % tag
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(found[0].encode()).digest()).decode()


csp = ("default-src 'self'; script-src " + only("script") + "; style-src " + only("style") +
       "; img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
(root / "Sources/ScoringService/ReviewPage.swift").write_text(
    "// The review page served at GET / (issue 20), generated from ReviewPage/review.html by\n"
    "// scripts/embed-review-page.py; ReviewPageTests keeps the two identical, so the binary serves it\n"
    "// even when installed alone. Serve `html` as text/html; charset=utf-8 with the header\n"
    "// Content-Security-Policy: `contentSecurityPolicy` (it allows the page's inline script and style\n"
    "// by hash only, and blob: images and media for drawing the reviewer's own file).\n"
    "enum ReviewPage {\n"
    "    static let contentSecurityPolicy = \"" + csp + "\"\n\n"
    "    static let html = #\"\"\"\n" + html + "\n\"\"\"#\n}\n")
