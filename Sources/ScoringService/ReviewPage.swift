// The review page served at GET / (issue 20), generated from ReviewPage/review.html by
// scripts/embed-review-page.py; ReviewPageTests keeps the two identical, so the binary serves it
// even when installed alone. Serve `html` as text/html; charset=utf-8 with the header
// Content-Security-Policy: `contentSecurityPolicy` (it allows the page's inline script and style
// by hash only, and blob: images and media for drawing the reviewer's own file).
enum ReviewPage {
    static let contentSecurityPolicy = "default-src 'self'; script-src 'sha256-oeWWsGyKdsDn2fWfnqTooaBQKWQxWwTXiSMzUhCvqA4='; style-src 'sha256-EO69EamjgSHqsAFwhlIJ4tnYRrbDkCAHQdtb+ZbooSQ='; img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DFGaze review</title>
<style>
:root { color-scheme: light; --ink: #1a1a1a; --muted: #4a4a4a; --line: #767676; --accent: #0b57d0;
  --fake: #b3261e; --real: #146c2e; --warn-bg: #fff4ce; --warn-ink: #5c4300; --bg: #ffffff; --panel: #f4f5f7; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: var(--bg); }
header { padding: 0.75rem 1.25rem; border-bottom: 1px solid #d0d0d0; }
header h1 { margin: 0; font-size: 1.3rem; }
header p { margin: 0.2rem 0 0; color: var(--muted); font-size: 0.9rem; }
main { max-width: 62rem; padding: 1rem 1.25rem 2rem; }
h2 { font-size: 1.15rem; margin: 1.2rem 0 0.5rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.4rem; }
.drop { border: 2px dashed var(--line); border-radius: 8px; padding: 1rem; background: var(--panel); }
.drop.over { border-color: var(--accent); background: #e8f0fe; }
.drop label { display: block; font-weight: 600; margin-bottom: 0.4rem; }
.row { margin: 0.6rem 0; }
.hint { color: var(--muted); font-size: 0.9rem; margin: 0.3rem 0 0; }
button { font: inherit; padding: 0.45rem 1.1rem; border-radius: 6px; border: 1px solid var(--accent);
  background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { background: #5f6368; border-color: #5f6368; cursor: default; }
:focus-visible { outline: 3px solid #ffb300; outline-offset: 2px; }
input[type=password] { font: inherit; padding: 0.3rem; border: 1px solid var(--line); border-radius: 4px; }
progress { width: 18rem; height: 1rem; vertical-align: middle; }
.error { border-left: 4px solid var(--fake); background: #fdecea; color: #5f1410; padding: 0.6rem 0.8rem; }
.warning { border-left: 4px solid #b07d00; background: var(--warn-bg); color: var(--warn-ink); padding: 0.6rem 0.8rem; }
.verdict { font-size: 1.15rem; padding: 0.6rem 0.8rem; background: var(--panel); border-radius: 6px; }
.verdict strong.fake { color: var(--fake); }
.verdict strong.real { color: var(--real); }
.timeline { width: 100%; height: auto; max-height: 16rem; background: #fff; border: 1px solid #d0d0d0; border-radius: 4px; }
.timeline text { font-size: 12px; fill: #3c3c3c; }
.timeline .clip rect { fill: var(--accent); stroke: #fff; stroke-width: 1; cursor: pointer; }
.timeline .clip.fake rect { fill: var(--fake); }
.timeline .clip[aria-pressed=true] rect { stroke: #1a1a1a; stroke-width: 3; }
.timeline .clip:focus { outline: none; }
.timeline .clip:focus rect { stroke: #ffb300; stroke-width: 4; }
.crops { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 0; padding: 0; list-style: none; }
.crops li { background: var(--panel); padding: 0.4rem; border-radius: 6px; font-size: 0.85rem; }
.crops canvas { display: block; width: 160px; height: 160px; background: #222; }
table { border-collapse: collapse; }
td, th { text-align: left; padding: 0.15rem 0.8rem 0.15rem 0; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
[hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>DFGaze review</h1>
  <p>Score a video or a set of frames and look at what the model saw. Your file stays in this tab; only the scores come back.</p>
</header>
<main>
<section aria-labelledby="upload-heading">
  <h2 id="upload-heading">Video or frames</h2>
  <form id="form" novalidate>
    <div id="drop" class="drop">
      <label for="file-input">Choose a video, or four or more JPEG frames (or drop them here)</label>
      <input id="file-input" data-testid="file-input" type="file" multiple
             accept="video/*,.mp4,.mov,.webm,.mkv,image/jpeg,.jpg,.jpeg" aria-describedby="chosen">
      <p id="chosen" class="hint">Nothing chosen yet. Frames are sent in the order listed here.</p>
    </div>
    <div class="row">
      <input id="faces-detect" data-testid="faces-detect" type="checkbox">
      <label for="faces-detect">Find faces (the frames are whole frames; leave unticked when they are already face crops)</label>
      <p class="hint" id="faces-hint">A video always has its faces found by the service.</p>
    </div>
    <div class="row" id="key-row" hidden>
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" spellcheck="false" aria-describedby="key-hint">
      <p class="hint" id="key-hint">Kept for this tab only and sent as a bearer token.</p>
    </div>
    <div class="row">
      <button id="submit" data-testid="submit" type="submit">Score</button>
    </div>
  </form>
  <div class="row" id="progress-row" hidden>
    <label for="progress" id="progress-label">Progress</label>
    <progress id="progress" data-testid="progress" max="1"></progress>
    <span id="progress-text" aria-live="polite"></span>
  </div>
  <div id="error" data-testid="error" class="error" role="alert" hidden></div>
</section>

<section id="result" aria-labelledby="result-heading" hidden>
  <h2 id="result-heading">Result</h2>
  <p id="demo-warning" data-testid="demo-warning" class="warning" hidden>
    These scores come from the demo weights: they exercise the pipeline and say nothing about this video.
  </p>
  <p id="verdict" data-testid="verdict" class="verdict"></p>
  <p id="result-info" class="hint"></p>
  <h3 id="timeline-heading">Clips over time</h3>
  <p class="hint" id="timeline-hint">Each bar is a clip at the height of its fake probability; the dashed line is the threshold. Select a clip with the mouse, or with Tab and Enter; the arrow keys move between clips.</p>
  <svg id="timeline" data-testid="timeline" class="timeline" role="group" aria-labelledby="timeline-heading"
       aria-describedby="timeline-hint" viewBox="0 0 720 220" xmlns="http://www.w3.org/2000/svg"></svg>
  <p id="skipped" class="hint" hidden></p>
  <h3 id="clip-heading">Selected clip</h3>
  <div id="clip-detail">
    <p id="clip-summary"></p>
    <table id="heads" aria-labelledby="clip-heading">
      <caption class="sr-only">The selected clip's numbers</caption>
      <tbody id="heads-body"></tbody>
    </table>
    <p id="crop-note" class="hint"></p>
    <ul id="crops" class="crops" aria-label="The clip's four face crops"></ul>
  </div>
</section>
</main>
<script>
"use strict";
(function () {
  var KEY_STORE = "dfgaze-api-key";
  var $ = function (id) { return document.getElementById(id); };
  var state = { files: [], kind: null, result: null, selected: -1, video: null, videoURL: null,
                images: [], drawToken: 0, busy: false };

  // ---- choosing files ----
  function isVideo(f) { return /^video\//.test(f.type) || /\.(mp4|m4v|mov|webm|mkv)$/i.test(f.name); }
  function isImage(f) { return /^image\//.test(f.type) || /\.(jpe?g)$/i.test(f.name); }
  function describeChoice() {
    var fs = state.files, text;
    if (fs.length === 0) text = "Nothing chosen yet. Frames are sent in the order listed here.";
    else if (state.kind === "video") text = "Video: " + fs[0].name + " (" + sizeText(fs[0].size) + ").";
    else if (state.kind === "frames") text = fs.length + " frames, in this order: " + fs.map(function (f) { return f.name; }).join(", ") + ".";
    else text = "These files cannot be scored together: choose one video, or JPEG frames only.";
    $("chosen").textContent = text;
    $("faces-hint").hidden = state.kind === "frames";
  }
  function sizeText(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " kB";
    return n + " bytes";
  }
  function setFiles(list) {
    var fs = Array.prototype.slice.call(list || []);
    state.files = fs;
    if (fs.length === 1 && isVideo(fs[0])) state.kind = "video";
    else if (fs.length > 0 && fs.every(isImage)) state.kind = "frames";
    else state.kind = fs.length ? "mixed" : null;
    describeChoice();
  }
  $("file-input").addEventListener("change", function (e) { setFiles(e.target.files); });
  var drop = $("drop");
  drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) setFiles(e.dataTransfer.files);
  });

  // ---- API key (only asked for after a 401) ----
  function storedKey() { try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; } }
  function keepKey(k) { try { if (k) sessionStorage.setItem(KEY_STORE, k); else sessionStorage.removeItem(KEY_STORE); } catch (e) {} }
  if (storedKey()) { $("key-row").hidden = false; $("api-key").value = storedKey(); }
  function authHeaders() {
    var k = $("api-key").value.trim();
    keepKey(k);
    return k ? { "Authorization": "Bearer " + k } : {};
  }

  // ---- errors as sentences ----
  function ApiError(status, body, retryAfter) {
    this.status = status; this.body = body || null; this.retryAfter = retryAfter;
    var err = body && body.error ? body.error : null;
    this.code = err && err.code ? err.code : null;
    this.message = err && err.message ? err.message : "";
    this.requestId = body && body.request_id ? body.request_id : null;
  }
  function sentence(e) {
    if (!(e instanceof ApiError)) return "The service could not be reached. Check that it is running and try again.";
    var what = state.kind === "video" ? "this video" : "these frames";
    var wait = e.retryAfter ? " Try again in " + e.retryAfter + " seconds." : " Try again in a moment.";
    switch (e.code) {
      case "no_face": return "No face was found in " + what + ", so nothing could be scored.";
      case "video_too_short": return "This video is too short to score: a clip needs at least 32 frames (about a second).";
      case "video_too_long": return "This video is longer than the service accepts. Cut it into shorter parts.";
      case "body_too_large": return "This upload is too large for the service. Send a smaller file or fewer frames.";
      case "unsupported_video": return "The service cannot read this kind of video. Try an MP4 (H.264) or WebM file.";
      case "corrupt_video": return "This video file seems damaged: the service could not decode it.";
      case "unsupported_media_type": return "The service does not accept this kind of file. Send a video or JPEG frames.";
      case "too_few_frames": return "At least 4 frames are needed to make a clip.";
      case "too_many_frames": return "Too many frames for one request. Send fewer frames.";
      case "not_a_jpeg": return "One of the frames is not a JPEG image" + frameText(e) + ".";
      case "image_too_large": return "One of the frames is too large" + frameText(e) + ".";
      case "unauthorized": return "The service needs an API key. Enter it below and press Score again.";
      case "overloaded": return "The service is busy right now." + wait;
      case "draining": return "The service is shutting down." + wait;
      case "not_ready": return "The service is still starting." + wait;
      case "request_timeout": return "The upload took too long and the service gave up. Try again.";
      case "job_not_found": return "The service no longer knows this job; it may have expired. Submit again.";
      case "canceled": return "The job was canceled before it finished.";
    }
    if (e.status === 401) return "The service needs an API key. Enter it below and press Score again.";
    if (e.status === 413) return "This upload is too large for the service. Send a smaller file or fewer frames.";
    var m = e.message ? e.message.replace(/\.?$/, ".") : "";
    return "The service could not score " + what + " (" + (e.code || ("HTTP " + e.status)) + ")" + (m ? ": " + m : ".");
  }
  function frameText(e) {
    var f = e.body && e.body.error ? e.body.error.frame : undefined;
    return typeof f === "number" ? " (frame " + (f + 1) + ")" : "";
  }
  function showError(e) {
    var box = $("error");
    box.textContent = "";
    var p = document.createElement("p");
    p.style.margin = "0";
    p.textContent = sentence(e);
    box.appendChild(p);
    if (e instanceof ApiError && e.requestId) {
      var small = document.createElement("p");
      small.className = "hint"; small.style.margin = "0.3rem 0 0"; small.style.color = "#5f1410";
      small.textContent = "Request id: " + e.requestId;
      box.appendChild(small);
    }
    box.hidden = false;
    if (e instanceof ApiError && (e.status === 401 || e.code === "unauthorized")) {
      var had = $("api-key").value.trim() !== "";
      $("key-row").hidden = false;
      if (had) p.textContent = "The service did not accept this API key. Check it and press Score again.";
      $("api-key").focus();
    }
  }
  function clearError() { $("error").hidden = true; $("error").textContent = ""; }

  // ---- talking to the service ----
  function readJSON(resp) {
    return resp.text().then(function (t) { try { return JSON.parse(t); } catch (e) { return null; } });
  }
  function request(method, url, body, headers) {
    return fetch(url, { method: method, body: body, headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (resp) {
        return readJSON(resp).then(function (json) {
          return { status: resp.status, json: json, location: resp.headers.get("Location"),
                   retryAfter: resp.headers.get("Retry-After") };
        });
      });
  }
  function buildBody() {
    var headers = authHeaders(), query = "";
    if (state.kind === "video") {
      headers["Content-Type"] = state.files[0].type || guessVideoType(state.files[0].name);
      return { body: state.files[0], headers: headers, query: query };
    }
    var form = new FormData();
    state.files.forEach(function (f, i) { form.append("frame", f, f.name || ("frame" + i + ".jpg")); });
    if ($("faces-detect").checked) query = "?faces=detect";
    return { body: form, headers: headers, query: query };
  }
  function guessVideoType(name) {
    if (/\.webm$/i.test(name)) return "video/webm";
    if (/\.mov$/i.test(name)) return "video/quicktime";
    if (/\.mkv$/i.test(name)) return "video/x-matroska";
    return "video/mp4";
  }
  function setProgress(done, total, text) {
    var bar = $("progress");
    $("progress-row").hidden = false;
    if (typeof done === "number" && typeof total === "number" && total > 0) {
      bar.max = total; bar.value = done;
      bar.setAttribute("aria-valuetext", done + " of " + total + " clips");
    } else {
      bar.removeAttribute("value"); bar.removeAttribute("aria-valuetext");
    }
    $("progress-text").textContent = text;
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function poll(url, headers, started) {
    return request("GET", url, undefined, headers).then(function (r) {
      if (r.status !== 200 || !r.json) throw new ApiError(r.status, r.json, r.retryAfter);
      var job = r.json, p = job.progress || {};
      if (job.status === "succeeded") { setProgress(p.clips_total || 1, p.clips_total || 1, "Done."); return { result: job.result, jobId: job.id }; }
      if (job.status === "failed") throw new ApiError(422, job.error && job.error.error ? job.error : { error: job.error }, null);
      if (job.status === "canceled") throw new ApiError(409, { error: { code: "canceled" } }, null);
      var text = job.status === "queued" ? "Waiting in the queue." :
        (typeof p.clips_total === "number" ? "Scored " + (p.clips_done || 0) + " of " + p.clips_total + " clips." : "Running.");
      setProgress(job.status === "running" ? p.clips_done : undefined, job.status === "running" ? p.clips_total : undefined, text);
      var elapsed = Date.now() - started;
      return sleep(elapsed < 10000 ? 400 : 1500).then(function () { return poll(url, headers, started); });
    });
  }
  function submit() {
    var b = buildBody();
    setProgress(undefined, undefined, "Uploading.");
    return request("POST", "/jobs" + b.query, b.body, b.headers).then(function (r) {
      if (r.status === 404 || r.status === 405) {
        // Jobs are not enabled on this service: score synchronously.
        setProgress(undefined, undefined, "Scoring (this can take a while).");
        return request("POST", "/score" + b.query, buildBody().body, b.headers).then(function (s) {
          if (s.status !== 200 || !s.json) throw new ApiError(s.status, s.json, s.retryAfter);
          setProgress(1, 1, "Done.");
          return { result: s.json, jobId: null };
        });
      }
      if ((r.status !== 202 && r.status !== 200 && r.status !== 201) || !r.json || !r.json.id) throw new ApiError(r.status, r.json, r.retryAfter);
      var url = r.location || ("/jobs/" + encodeURIComponent(r.json.id));
      setProgress(undefined, undefined, "Waiting in the queue.");
      return poll(url, b.headers, Date.now());
    });
  }
  $("form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (state.busy) return;
    clearError();
    if (!state.files.length) { showLocalError("Choose a video or some frames first."); return; }
    if (state.kind === "mixed") { showLocalError("Choose one video, or JPEG frames only, not both."); return; }
    state.busy = true; $("submit").disabled = true;
    $("result").hidden = true;
    var files = state.files.slice(), kind = state.kind;
    submit().then(function (out) {
      showResult(out.result, out.jobId, files, kind);
    }).catch(function (err) {
      $("progress-row").hidden = true;
      showError(err);
    }).then(function () { state.busy = false; $("submit").disabled = false; });
  });
  function showLocalError(text) {
    var box = $("error"); box.textContent = text; box.hidden = false;
  }

  // ---- the result ----
  var SVG = "http://www.w3.org/2000/svg";
  function svgEl(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function fmt(x, d) { return typeof x === "number" && isFinite(x) ? x.toFixed(d) : "not given"; }
  function clipSpan(c, fps) {
    if (typeof c.start_s === "number" && typeof c.end_s === "number") return { a: c.start_s, b: c.end_s, unit: "s" };
    var fr = c.frames || [];
    if (fps && fr.length) return { a: fr[0] / fps, b: fr[fr.length - 1] / fps, unit: "s" };
    return { a: fr.length ? fr[0] : 0, b: fr.length ? fr[fr.length - 1] : 0, unit: "frame" };
  }
  function clipName(i, c, span) {
    return "Clip " + (i + 1) + (span.unit === "s" ? ", " + span.a.toFixed(2) + " to " + span.b.toFixed(2) + " s"
      : ", frames " + (c.frames || []).map(function (f) { return f + 1; }).join(", "));
  }
  function showResult(result, jobId, files, kind) {
    state.result = result; state.kind = kind; state.resultFiles = files;
    var sec = $("result");
    if (jobId) sec.setAttribute("data-job-id", jobId); else sec.removeAttribute("data-job-id");
    if (result.request_id) sec.setAttribute("data-request-id", result.request_id);
    var p = result.fake_probability, label = result.label || "", thr = result.threshold;
    var v = $("verdict"); v.textContent = "";
    v.appendChild(document.createTextNode("Fake probability " + fmt(p, 3) + ": "));
    var s = document.createElement("strong"); s.className = label === "fake" ? "fake" : "real"; s.textContent = label;
    v.appendChild(s);
    v.appendChild(document.createTextNode(" (threshold " + (typeof thr === "number" ? String(thr) : "not given") + ")."));
    $("demo-warning").hidden = !(result.model && result.model.demo === true);
    var info = [], input = result.input || {};
    if (input.kind === "video") info.push("Video " + (input.width || "?") + "x" + (input.height || "?") + ", " +
      fmt(input.fps, 2) + " fps, " + fmt(input.duration_s, 2) + " s, " + (input.frames_decoded || "?") + " frames decoded.");
    else if (input.kind === "frames") info.push((input.frames_decoded || files.length) + " frames.");
    var nc = (result.clips || []).length;
    info.push(nc + (nc === 1 ? " clip" : " clips") + " scored.");
    if (result.model && result.model.weights) info.push("Weights: " + result.model.weights + ".");
    $("result-info").textContent = info.join(" ");
    var sk = result.skipped_clips || [];
    $("skipped").hidden = sk.length === 0;
    $("skipped").textContent = sk.length ? sk.length + " clip" + (sk.length > 1 ? "s were" : " was") + " not scored: " +
      sk.map(function (c) { return "frames " + (c.frames || []).join(", ") + " (" + (c.reason === "no_face" ? "no face" : (c.reason || "skipped")) + ")"; }).join("; ") + "." : "";
    prepareSource(files, kind);
    drawTimeline();
    sec.hidden = false;
    $("progress-row").hidden = true;
    select((result.clips || []).length ? 0 : -1, false);
    v.setAttribute("tabindex", "-1");
    v.focus();
  }

  function drawTimeline() {
    var svg = $("timeline"), r = state.result, clips = r.clips || [], fps = r.input && r.input.fps;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = 720, H = 220, L = 48, R = 16, T = 14, B = 40;
    var spans = clips.map(function (c) { return clipSpan(c, fps); });
    var unit = spans.length ? spans[0].unit : "s";
    var xmax = 0;
    spans.forEach(function (s) { xmax = Math.max(xmax, s.b); });
    if (unit === "s" && r.input && typeof r.input.duration_s === "number") xmax = Math.max(xmax, r.input.duration_s);
    if (unit === "frame") xmax += 1;
    if (!(xmax > 0)) xmax = 1;
    var x = function (t) { return L + (W - L - R) * t / xmax; };
    var y = function (p) { return T + (H - T - B) * (1 - p); };
    svg.appendChild(svgEl("title", {}, "Fake probability of each clip over " + (unit === "s" ? "the video's time" : "the frames")));
    var axes = svgEl("g", { "aria-hidden": "true" });
    axes.appendChild(svgEl("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#767676" }));
    axes.appendChild(svgEl("line", { x1: L, y1: y(0), x2: L, y2: y(1), stroke: "#767676" }));
    [0, 0.5, 1].forEach(function (p) {
      axes.appendChild(svgEl("text", { x: L - 6, y: y(p) + 4, "text-anchor": "end" }, p.toFixed(1)));
    });
    if (unit === "s") {
      for (var i = 0; i <= 5; i++) {
        var t = xmax * i / 5;
        axes.appendChild(svgEl("text", { x: x(t), y: H - B + 16, "text-anchor": "middle" }, t.toFixed(1)));
      }
    } else {
      // Frame k covers [k, k + 1): its number sits in the middle.
      var step = Math.max(1, Math.ceil(xmax / 12));
      for (var k = 0; k < xmax; k += step) {
        axes.appendChild(svgEl("text", { x: x(k + 0.5), y: H - B + 16, "text-anchor": "middle" }, String(k + 1)));
      }
    }
    axes.appendChild(svgEl("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, unit === "s" ? "time (s)" : "frame"));
    axes.appendChild(svgEl("text", { x: 12, y: y(0.5), transform: "rotate(-90 12 " + y(0.5) + ")", "text-anchor": "middle" }, "fake probability"));
    if (typeof r.threshold === "number") {
      axes.appendChild(svgEl("line", { x1: L, y1: y(r.threshold), x2: W - R, y2: y(r.threshold), stroke: "#b3261e",
        "stroke-dasharray": "6 4", "stroke-width": 1.5, "data-role": "threshold" }));
      axes.appendChild(svgEl("text", { x: W - R, y: y(r.threshold) - 5, "text-anchor": "end" }, "threshold " + r.threshold));
    }
    svg.appendChild(axes);
    clips.forEach(function (c, i) {
      var s = spans[i], x0 = x(s.a), x1 = x(unit === "frame" ? s.b + 1 : s.b);
      var w = Math.max(8, x1 - x0), pr = typeof c.fake_probability === "number" ? c.fake_probability : 0;
      var g = svgEl("g", { "class": "clip" + (typeof r.threshold === "number" && pr >= r.threshold ? " fake" : ""),
        "data-testid": "clip", "data-index": i, role: "button", tabindex: i === 0 ? 0 : -1, "aria-pressed": "false",
        "aria-label": clipName(i, c, s) + ", fake probability " + fmt(pr, 3) });
      g.appendChild(svgEl("title", {}, clipName(i, c, s) + ": " + fmt(pr, 3)));
      g.appendChild(svgEl("rect", { x: x0, y: y(pr) - 7, width: w, height: 14, rx: 3 }));
      g.addEventListener("click", function () { select(i, true); });
      g.addEventListener("keydown", function (e) {
        var n = clips.length;
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(i, true); }
        else if (e.key === "ArrowRight" || e.key === "ArrowDown") { e.preventDefault(); select((i + 1) % n, true, true); }
        else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { e.preventDefault(); select((i + n - 1) % n, true, true); }
        else if (e.key === "Home") { e.preventDefault(); select(0, true, true); }
        else if (e.key === "End") { e.preventDefault(); select(n - 1, true, true); }
      });
      svg.appendChild(g);
    });
  }

  function select(i, fromUser, moveFocus) {
    state.selected = i;
    var gs = document.querySelectorAll("#timeline [data-testid=clip]");
    Array.prototype.forEach.call(gs, function (g, k) {
      g.setAttribute("aria-pressed", k === i ? "true" : "false");
      g.setAttribute("tabindex", k === i ? "0" : "-1");
      if (k === i && moveFocus) g.focus();
    });
    var r = state.result, c = (r.clips || [])[i];
    var body = $("heads-body"); body.textContent = "";
    var list = $("crops"); list.textContent = "";
    if (!c) { $("clip-summary").textContent = "No clip was scored."; $("crop-note").textContent = ""; return; }
    var span = clipSpan(c, r.input && r.input.fps);
    $("clip-summary").textContent = clipName(i, c, span) + ": fake probability " + fmt(c.fake_probability, 3) + ".";
    var rows = [];
    (c.head_fake_probabilities || []).forEach(function (h, k) { rows.push(["Head " + (k + 1) + " fake probability", fmt(h, 3)]); });
    rows.push(["Gaze dispersion", typeof c.gaze_dispersion_deg === "number" ? c.gaze_dispersion_deg.toFixed(1) + "\u00b0" : "not given"]);
    rows.push(["Gaze step", typeof c.gaze_step_deg === "number" ? c.gaze_step_deg.toFixed(1) + "\u00b0" : "not given"]);
    rows.forEach(function (row) {
      var tr = document.createElement("tr"), th = document.createElement("th"), td = document.createElement("td");
      th.scope = "row"; th.textContent = row[0]; td.textContent = row[1];
      tr.appendChild(th); tr.appendChild(td); body.appendChild(tr);
    });
    var byIndex = {};
    (r.frames || []).forEach(function (f) { byIndex[f.index] = f; });
    var token = ++state.drawToken;
    var jobs = (c.frames || []).map(function (idx) {
      var f = byIndex[idx] || { index: idx };
      var li = document.createElement("li");
      var cv = document.createElement("canvas");
      cv.width = 160; cv.height = 160;
      cv.setAttribute("data-testid", "crop");
      cv.setAttribute("data-frame", String(idx));
      cv.setAttribute("role", "img");
      var desc = (state.kind === "video" ? "Video frame " + idx + (typeof f.time_s === "number" ? " at " + f.time_s.toFixed(2) + " s" : "")
        : "Frame " + (idx + 1)) + ", yaw " + fmt(f.yaw_deg, 1) + "\u00b0, pitch " + fmt(f.pitch_deg, 1) + "\u00b0" +
        (f.face ? (f.face.detected ? ", face found" : ", face box borrowed from a nearby frame") : "");
      cv.setAttribute("aria-label", desc);
      var cap = document.createElement("div");
      cap.textContent = desc;
      cap.style.maxWidth = "160px";
      li.appendChild(cv); li.appendChild(cap); list.appendChild(li);
      return { canvas: cv, frame: f };
    });
    $("crop-note").textContent = "Drawn in this tab from your own file; the arrow is the estimated gaze.";
    drawCrops(jobs, token);
  }

  // ---- drawing the crops from the reviewer's own file ----
  function prepareSource(files, kind) {
    if (state.videoURL) { URL.revokeObjectURL(state.videoURL); state.videoURL = null; }
    state.images.forEach(function (u) { if (u) URL.revokeObjectURL(u.url); });
    state.images = []; state.video = null; state.videoReady = null;
    if (kind === "video") {
      var v = document.createElement("video");
      v.muted = true; v.preload = "auto"; v.playsInline = true;
      state.videoURL = URL.createObjectURL(files[0]);
      state.videoReady = new Promise(function (resolve, reject) {
        v.addEventListener("loadeddata", function () { resolve(v); }, { once: true });
        v.addEventListener("error", function () { reject(new Error("video")); }, { once: true });
      });
      v.src = state.videoURL;
      v.load();
      state.video = v;
      state.seekChain = Promise.resolve();
    } else {
      state.images = files.map(function (f) { return { url: URL.createObjectURL(f), img: null }; });
    }
  }
  function loadImage(i) {
    var entry = state.images[i];
    if (!entry) return Promise.reject(new Error("no frame " + i));
    if (!entry.img) entry.img = new Promise(function (resolve, reject) {
      var im = new Image();
      im.onload = function () { resolve(im); };
      im.onerror = function () { reject(new Error("image")); };
      im.src = entry.url;
    });
    return entry.img;
  }
  function seek(v, t) {
    return new Promise(function (resolve) {
      var done = function () { v.removeEventListener("seeked", done); resolve(v); };
      v.addEventListener("seeked", done);
      v.currentTime = t;
    });
  }
  function sourceFor(f) {
    var r = state.result;
    if (state.kind === "video") {
      var fps = r.input && r.input.fps;
      var t = typeof f.time_s === "number" ? f.time_s : (fps ? f.index / fps : 0);
      // Half a frame later than the frame's start, so that rounding cannot land on the previous frame.
      if (fps) t += 0.5 / fps;
      return state.videoReady.then(function (v) {
        if (isFinite(v.duration)) t = Math.min(t, Math.max(0, v.duration - 0.001));
        var p = state.seekChain.then(function () { return seek(v, t); });
        state.seekChain = p.catch(function () {});
        return p.then(function () {
          var sx = r.input && r.input.width ? v.videoWidth / r.input.width : 1;
          var sy = r.input && r.input.height ? v.videoHeight / r.input.height : 1;
          var c = document.createElement("canvas");
          c.width = v.videoWidth; c.height = v.videoHeight;
          c.getContext("2d").drawImage(v, 0, 0);
          return { image: c, sx: sx, sy: sy };
        });
      });
    }
    return loadImage(f.index).then(function (im) { return { image: im, sx: 1, sy: 1 }; });
  }
  function drawCrops(jobs, token) {
    jobs.reduce(function (chain, job) {
      return chain.then(function () {
        if (token !== state.drawToken) return;
        return sourceFor(job.frame).then(function (src) {
          if (token !== state.drawToken) return;
          drawOne(job.canvas, src, job.frame);
        }, function () {
          job.canvas.setAttribute("data-state", "failed");
          $("crop-note").textContent = "This browser could not decode your file, so the crops cannot be drawn.";
        });
      });
    }, Promise.resolve());
  }
  function drawOne(canvas, src, f) {
    var ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    var img = src.image, iw = img.naturalWidth || img.width, ih = img.naturalHeight || img.height;
    var sx, sy, sw, sh;
    if (f.face && f.face.crop && f.face.crop.length === 3) {
      sx = f.face.crop[0] * src.sx; sy = f.face.crop[1] * src.sy;
      sw = f.face.crop[2] * src.sx; sh = f.face.crop[2] * src.sy;
    } else { sx = 0; sy = 0; sw = iw; sh = ih; } // frames that are already face crops
    ctx.fillStyle = "#222"; ctx.fillRect(0, 0, W, H);
    ctx.drawImage(img, sx, sy, sw, sh, 0, 0, W, H);
    if (typeof f.yaw_deg === "number" && typeof f.pitch_deg === "number") {
      var yaw = f.yaw_deg * Math.PI / 180, pitch = f.pitch_deg * Math.PI / 180, len = W * 0.45;
      var x0 = W / 2, y0 = H / 2;
      ctx.fillStyle = "#ffd60a"; ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(x0, y0, 4, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      var x1 = x0 - len * Math.sin(yaw) * Math.cos(pitch), y1 = y0 - len * Math.sin(pitch);
      var head = Math.min(12, 0.6 * Math.hypot(x1 - x0, y1 - y0));
      arrow(ctx, x0, y0, x1, y1, "#000", 6, head);
      arrow(ctx, x0, y0, x1, y1, "#ffd60a", 3, head);
    }
    canvas.setAttribute("data-state", "drawn");
  }
  function arrow(ctx, x0, y0, x1, y1, color, width, h) {
    var a = Math.atan2(y1 - y0, x1 - x0);
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = width; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - h * Math.cos(a - 0.45), y1 - h * Math.sin(a - 0.45));
    ctx.lineTo(x1 - h * Math.cos(a + 0.45), y1 - h * Math.sin(a + 0.45));
    ctx.closePath(); ctx.fill(); ctx.stroke();
  }
  document.documentElement.setAttribute("data-ready", "true"); // the script ran (tests wait for this)
})();
</script>
</body>
</html>

"""#
}
