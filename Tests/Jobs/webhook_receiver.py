#!/usr/bin/env python3
"""A webhook receiver for the Jobs tests (standard library only).

    webhook_receiver.py --host 127.0.0.1 --secret S --statuses 500,500,200 --log FILE [--location URL]
                        [--tls-cert CERT.pem --tls-key KEY.pem]

Prints its port on the first line of stdout, then serves until killed. Answers each POST with the
next status of --statuses (the last one repeats; 0 never answers; a 3xx carries `Location: --location`) and appends
one JSON line per request to FILE: path, X-DFGaze-Job-Id, whether X-DFGaze-Signature is the
HMAC-SHA256 of the raw body with the secret (computed here with Python's hmac), and the body.
With --tls-cert/--tls-key it serves HTTPS (Python's ssl); a client that refuses the certificate
never gets as far as a request, so nothing is logged for it.
"""
import argparse, hashlib, hmac, http.server, json, socket, ssl, threading, time

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--secret", default="")
p.add_argument("--statuses", default="200")
p.add_argument("--log", required=True)
p.add_argument("--location", default="")
p.add_argument("--tls-cert", default="")
p.add_argument("--tls-key", default="")
args = p.parse_args()
statuses = [int(s) for s in args.statuses.split(",")]
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
        with lock:
            status = statuses[min(count[0], len(statuses) - 1)]
            count[0] += 1
            with open(args.log, "a") as f:
                f.write(json.dumps({
                    "path": self.path,
                    "job_id": self.headers.get("X-DFGaze-Job-Id"),
                    "signature_ok": hmac.compare_digest(self.headers.get("X-DFGaze-Signature", ""), expected),
                    "body": json.loads(body),
                }) + "\n")
        if status == 0:  # never answer
            time.sleep(60)
            return
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", args.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


if ":" in args.host:
    http.server.ThreadingHTTPServer.address_family = socket.AF_INET6
server = http.server.ThreadingHTTPServer((args.host, 0), Handler)
if args.tls_cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    # The handshake runs in accept(); a failed one is an OSError that socketserver ignores.
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
