#!/usr/bin/env python3
"""The review page (GET /, issue 20) in a real browser: Debian's chromium + chromium-driver, driven by
selenium. Run by Tests/Browser/run.sh, which starts `dfgaze serve`; by hand:

    review_page.py --url http://127.0.0.1:PORT --out DIR [--keyed-url URL --key KEY]

Each test loads the page fresh, works it as a reviewer would (file input, checkbox, button, clips,
keyboard) and compares what the page shows with the API's own JSON for the same upload. A screenshot
per test goes to --out. With DFGAZE_SCREENSHOT=path (e.g. docs/review-page.png) the video test also
saves the README's screenshot there. Closing line: `browser: N passed, N failed`; exit 1 on any failure.
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests/Fixtures/dfgaze-video-v1"
VIDEO = FIXTURES / "talking_astronaut.mp4"
FRAMES4 = [FIXTURES / "frames" / n for n in json.loads((FIXTURES / "expected.json").read_text())
           ["cases"]["frames4"]["request"]["frame_files"]]
PAGE = (REPO / "Sources/ScoringService/ReviewPage/review.html").read_text()
CSP = re.search(r'static let contentSecurityPolicy = "([^"]*)"',
                (REPO / "Sources/ScoringService/ReviewPage.swift").read_text()).group(1)
SCORE_TIMEOUT = float(os.environ.get("BROWSER_SCORE_TIMEOUT", "600"))

# JavaScript: the standard deviation of a canvas's top-left quarter (the image, away from the gaze arrow
# drawn from the centre) and its data-state.
CANVAS_STATS = """
const c = arguments[0], w = Math.floor(c.width / 3), h = Math.floor(c.height / 3);
const d = c.getContext('2d').getImageData(0, 0, w, h).data;
let n = 0, s = 0, s2 = 0;
for (let i = 0; i < d.length; i += 4) { const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]; n++; s += l; s2 += l * l; }
const m = s / n;
return {state: c.getAttribute('data-state'), std: Math.sqrt(Math.max(0, s2 / n - m * m)), width: c.width};
"""


def by(testid):
    return (By.CSS_SELECTOR, "[data-testid=%s]" % testid)


class Failure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=SCORE_TIMEOUT) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Session:
    def __init__(self, args):
        self.args = args
        self.out = pathlib.Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = args.chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1100,1500", "--force-device-scale-factor=1", "--lang=en-US"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=opts)
        self.driver.set_page_load_timeout(60)

    def open(self, url):
        # GET / serves the repo's page with the policy of ReviewPage.swift (what the binary embeds).
        try:
            resp = urllib.request.urlopen(url + "/", timeout=30)
        except urllib.error.HTTPError as e:
            raise Failure("GET / answered %s: the review page route is not served" % e.code)
        with resp:
            check(resp.headers.get_content_type() == "text/html", "GET / is %s" % resp.headers.get("Content-Type"))
            check(resp.read() == PAGE.encode(), "GET / is not Sources/ScoringService/ReviewPage/review.html")
            check(resp.headers.get("Content-Security-Policy") == CSP,
                  "GET / sends Content-Security-Policy %r, not ReviewPage.contentSecurityPolicy"
                  % resp.headers.get("Content-Security-Policy"))
        self.driver.get(url + "/")
        # The page's script ran under the server's Content-Security-Policy (a script whose hash the policy
        # lacks is blocked and leaves every hook inert).
        try:
            WebDriverWait(self.driver, 15).until(
                lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "true")
        except Exception:
            raise Failure("the page's script did not run (blocked by its CSP?): %s" % self.console_errors())

    def find(self, testid):
        return self.driver.find_element(*by(testid))

    def find_all(self, testid):
        return self.driver.find_elements(*by(testid))

    def choose(self, paths, detect=None):
        self.find("file-input").send_keys("\n".join(str(p) for p in paths))
        if detect is not None:
            box = self.find("faces-detect")
            if box.is_selected() != detect:
                box.send_keys(Keys.SPACE)  # the keyboard, as a reviewer without a mouse would
            check(box.is_selected() == detect, "faces-detect checkbox did not follow the keyboard")
        self.find("submit").click()

    def wait_verdict_or_error(self):
        def done(d):
            for tid in ("verdict", "error"):
                el = d.find_element(*by(tid))
                if el.is_displayed() and el.text.strip():
                    return tid
            return False
        return WebDriverWait(self.driver, SCORE_TIMEOUT, poll_frequency=0.2).until(done)

    def console_errors(self):
        try:
            return [e["message"] for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]
        except Exception:  # noqa: BLE001 - logs are a diagnostic only
            return []

    def screenshot(self, name):
        path = self.out / ("%s.png" % name)
        self.driver.save_screenshot(str(path))
        return path

    def axe(self, where):
        axe = Axe(self.driver)
        axe.inject()
        results = axe.run()
        bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
        (self.out / ("axe-%s.json" % where)).write_text(json.dumps(results["violations"], indent=1))
        check(not bad, "axe-core (%s): %s" % (where, "; ".join(
            "%s (%s): %s" % (v["id"], v["impact"], ", ".join(n["target"][0] for n in v["nodes"][:3])) for v in bad)))

    def api_result(self, base, paths, query, headers):
        """The API's JSON for the upload the page made: the page's job when it used one, else /score again."""
        section = self.driver.find_element(By.ID, "result")
        job = section.get_attribute("data-job-id")
        if job:
            status, body = http("GET", "%s/jobs/%s" % (base, job), headers=headers)
            check(status == 200 and body.get("status") == "succeeded", "GET /jobs/%s: %s %s" % (job, status, body))
            return body["result"]
        if len(paths) == 1 and paths[0].suffix == ".mp4":
            status, body = http("POST", base + "/score" + query, paths[0].read_bytes(),
                                dict(headers, **{"Content-Type": "video/mp4"}))
        else:
            boundary = "dfgazebrowsertest"
            parts = b"".join(b"--%s\r\nContent-Disposition: form-data; name=\"frame\"; filename=\"%s\"\r\n"
                             b"Content-Type: image/jpeg\r\n\r\n%s\r\n" % (boundary.encode(), p.name.encode(), p.read_bytes())
                             for p in paths) + b"--%s--\r\n" % boundary.encode()
            status, body = http("POST", base + "/score" + query, parts,
                                dict(headers, **{"Content-Type": "multipart/form-data; boundary=" + boundary}))
        check(status == 200, "POST /score for comparison: %s %s" % (status, body))
        return body

    def check_result(self, api, expect_kind):
        verdict = self.find("verdict").text
        p = "%.3f" % api["fake_probability"]
        check(p in verdict, "verdict %r does not show the API's probability %s" % (verdict, p))
        check(api["label"] in verdict, "verdict %r does not show the label %r" % (verdict, api["label"]))
        check(str(api["threshold"]) in verdict, "verdict %r does not show the threshold %r" % (verdict, api["threshold"]))
        check(api.get("input", {}).get("kind") == expect_kind, "the API's input.kind is %r" % api.get("input"))
        warning = self.find("demo-warning")
        demo = bool(api.get("model", {}).get("demo"))
        check(warning.is_displayed() == demo, "demo warning shown=%s, model.demo=%s" % (warning.is_displayed(), demo))
        check(self.find("timeline").is_displayed(), "no timeline")
        check(self.driver.find_elements(By.CSS_SELECTOR, "[data-testid=timeline] [data-role=threshold]"),
              "no threshold line on the timeline")
        clips = self.find_all("clip")
        check(len(clips) == len(api["clips"]) > 0, "%d clip elements for %d scored clips" % (len(clips), len(api["clips"])))
        return clips

    def wait_crops(self, frames):
        """Four crop canvases, for the selected clip's frames, all drawn with an image (not blank)."""
        def drawn(d):
            cs = d.find_elements(*by("crop"))
            return cs if len(cs) == 4 and all(c.get_attribute("data-state") in ("drawn", "failed") for c in cs) else False
        crops = WebDriverWait(self.driver, 60).until(drawn)
        check([int(c.get_attribute("data-frame")) for c in crops] == list(frames),
              "crops are of frames %s, the clip's are %s" % ([c.get_attribute("data-frame") for c in crops], frames))
        for c in crops:
            s = self.driver.execute_script(CANVAS_STATS, c)
            check(s["state"] == "drawn", "crop of frame %s not drawn (%s)" % (c.get_attribute("data-frame"), s))
            check(s["std"] > 4.0, "crop of frame %s looks blank (luma std %.2f)" % (c.get_attribute("data-frame"), s["std"]))


def reference_crop(path, crop, frame=None, size=160):
    """The crop cut by ffmpeg (not by the page): frame `frame` of a video, or an image, at crop [x, y, size]."""
    x, y, n = crop
    select = "select=eq(n\\,%d)," % frame if frame is not None else ""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf",
                          "%scrop=%d:%d:%d:%d,scale=%d:%d" % (select, n, n, x, y, size, size),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    check(len(raw) == size * size * 3, "ffmpeg gave %d bytes for the reference crop" % len(raw))
    return raw


def check_crop_content(s, path, api, frame_index, video):
    """The page's canvas for that frame shows the same picture as ffmpeg's cut of the face.crop rectangle: the
    median per-pixel difference is small (the gaze arrow covers a few pixels; scaling filters differ slightly)."""
    frame = next(f for f in api["frames"] if f["index"] == frame_index)
    canvas = s.driver.find_element(By.CSS_SELECTOR, "[data-testid=crop][data-frame='%d']" % frame_index)
    pixels = s.driver.execute_script(
        "const c = arguments[0]; return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);", canvas)
    ref = reference_crop(path, frame["face"]["crop"], frame_index if video else None)
    diffs = sorted(sum(abs(pixels[4 * i + k] - ref[3 * i + k]) for k in range(3)) / 3 for i in range(160 * 160))
    median = diffs[len(diffs) // 2]
    check(median < 10, "the crop of frame %d differs from ffmpeg's cut of face.crop %s (median difference %.1f levels)"
          % (frame_index, frame["face"]["crop"], median))


def test_video(s):
    """The fixture video as a job: verdict = the API's, one clip per scored clip, four crops from the video,
    keyboard selection of another clip, axe on the result."""
    s.open(s.args.url)
    s.choose([VIDEO])
    check(s.wait_verdict_or_error() == "verdict", "error instead of a verdict: %s" % s.find("error").text)
    api = s.api_result(s.args.url, [VIDEO], "", {})
    clips = s.check_result(api, "video")
    check(clips[0].get_attribute("aria-pressed") == "true", "the first clip is not selected at first")
    s.wait_crops(api["clips"][0]["frames"])
    check_crop_content(s, VIDEO, api, api["clips"][0]["frames"][1], video=True)
    if len(clips) > 1:
        clips[0].send_keys(Keys.ARROW_RIGHT)
        check(clips[1].get_attribute("aria-pressed") == "true", "ArrowRight did not select the second clip")
        check(s.driver.switch_to.active_element == clips[1], "focus did not follow the selection")
        s.wait_crops(api["clips"][1]["frames"])
        check_crop_content(s, VIDEO, api, api["clips"][1]["frames"][3], video=True)
        clips[0].click()
        check(clips[0].get_attribute("aria-pressed") == "true", "a click did not select the first clip")
        s.wait_crops(api["clips"][0]["frames"])
    readme = os.environ.get("DFGAZE_SCREENSHOT")
    if readme:  # the README's picture: the result part of the page (verdict, timeline, crops), at 900 px wide
        s.driver.set_window_size(900, 2400)
        s.wait_crops(api["clips"][0]["frames"])
        s.driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
        s.driver.find_element(By.ID, "result").screenshot(readme)
        s.driver.set_window_size(1100, 1500)
        print("  README screenshot written to %s (%d bytes)" % (readme, os.path.getsize(readme)))
    s.axe("video-result")


def test_frames(s):
    """frames4 (whole frames, find faces): verdict = the API's, one clip, four crops cut from the image files."""
    s.open(s.args.url)
    s.choose(FRAMES4, detect=True)
    check(s.wait_verdict_or_error() == "verdict", "error instead of a verdict: %s" % s.find("error").text)
    api = s.api_result(s.args.url, FRAMES4, "?faces=detect", {})
    s.check_result(api, "frames")
    s.wait_crops(api["clips"][0]["frames"])
    for i in api["clips"][0]["frames"]:
        check_crop_content(s, FRAMES4[i], api, i, video=False)
    s.axe("frames-result")


def test_too_short(s):
    """A 10-frame video (made here with ffmpeg): the API's error as a plain sentence, no verdict."""
    with tempfile.TemporaryDirectory() as tmp:
        short = pathlib.Path(tmp) / "short.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                        "-frames:v", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", str(short)], check=True)
        s.open(s.args.url)
        s.choose([short])
        check(s.wait_verdict_or_error() == "error", "a verdict for a 10-frame video")
    text = s.find("error").text.strip().splitlines()[0]
    check(text[:1].isupper() and text.endswith(".") and "{" not in text and "_" not in text,
          "the error is not a plain sentence: %r" % text)
    check("too short" in text, "the error does not say the video is too short: %r" % text)
    check(not s.driver.find_element(By.ID, "result").is_displayed(), "a result is shown beside the error")
    s.axe("error")


def test_api_key(s):
    """With API keys on: a 401 asks for the key; with it the upload goes through; the key stays in sessionStorage."""
    url = s.args.keyed_url
    s.open(url)
    s.choose(FRAMES4, detect=True)
    check(s.wait_verdict_or_error() == "error", "no 401 without a key")
    text = s.find("error").text
    check("API key" in text, "the 401 is not asked as a key: %r" % text)
    key = s.driver.find_element(By.ID, "api-key")
    check(key.is_displayed() and s.driver.switch_to.active_element == key, "the key field is not shown and focused")
    key.send_keys(s.args.key)
    key.send_keys(Keys.ENTER)  # submits the form
    WebDriverWait(s.driver, 10).until(lambda d: not d.find_element(*by("error")).is_displayed())
    check(s.wait_verdict_or_error() == "verdict", "error with the key: %s" % s.find("error").text)
    check(s.driver.execute_script("return sessionStorage.getItem('dfgaze-api-key')") == s.args.key, "key not kept")
    check(s.driver.execute_script("return localStorage.length") == 0, "something was kept beyond the tab")
    api = s.api_result(url, FRAMES4, "?faces=detect", {"Authorization": "Bearer " + s.args.key})
    s.check_result(api, "frames")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--keyed-url", help="a server with --api-keys-file (the API-key test)")
    ap.add_argument("--key")
    ap.add_argument("--out", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()
    tests = [test_video, test_frames, test_too_short]
    if args.keyed_url:
        tests.append(test_api_key)
    else:
        print("browser: NOTE test_api_key not run (no --keyed-url given)")
    s = Session(args)
    passed = failed = 0
    try:
        for t in tests:
            start = time.monotonic()
            try:
                t(s)
                passed += 1
                print("PASS %s (%.1f s)" % (t.__name__, time.monotonic() - start), flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported, then the next test runs
                failed += 1
                print("FAIL %s: %s" % (t.__name__, e), flush=True)
                if not isinstance(e, Failure):
                    traceback.print_exc()
                for line in s.console_errors():
                    print("  console: %s" % line)
            finally:
                try:
                    print("  screenshot: %s" % s.screenshot(t.__name__))
                except Exception as e:  # noqa: BLE001
                    print("  no screenshot: %s" % e)
    finally:
        s.driver.quit()
    print("browser: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
