#!/usr/bin/env bash
# HTTPS and API keys: `dfgaze serve --tls-cert --tls-key --api-keys-file` with a throwaway
# self-signed certificate (openssl CLI, temp dir), checked with curl and openssl s_client:
# /score without a key -> 401 + WWW-Authenticate, wrong key -> 401, the key -> 200; health stays
# open; TLS 1.2 and 1.3 accepted, TLS 1.1 refused by the server; the key never appears in the
# server's log; SIGTERM -> exit 0.
#
#   Tests/Load/tls_and_keys.sh         Env: DFGAZE_BIN
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${DFGAZE_BIN:-$repo/.build/release/dfgaze}
frames=$repo/Tests/Fixtures/dfgaze-demo-v1/frames
[[ -x $bin ]] || { echo "no dfgaze binary at $bin" >&2; exit 2; }
# shellcheck source=serve.sh
source "$here/serve.sh"

tmp=$(mktemp -d -t dfgaze-tls.XXXXXX)
server=
cleanup() { [[ -n $server ]] && kill -9 "$server" 2>/dev/null || true; }
trap cleanup EXIT

failures=0
expect() {  # expect <actual> <wanted> <description>
    if [[ $1 == "$2" ]]; then echo "  [ok] $3"; else echo "  [FAIL] $3 (got '$1', wanted '$2')"; failures=$((failures + 1)); fi
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj "/CN=localhost" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
key=$(openssl rand -hex 24)
other=$(openssl rand -hex 24)
printf '# test keys\n%s\nsha256:%s\n' "$key" "$(printf '%s' "$other" | sha256sum | cut -d' ' -f1)" >"$tmp/keys"

start_server "$tmp/server.log" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --api-keys-file "$tmp/keys"
base=https://127.0.0.1:$port
tls=(--cacert "$tmp/cert.pem" -s)
wait_ready "$base/readyz" "${tls[@]}"
echo "tls_and_keys: HTTPS on port $port"

score() {  # score [curl args...]: prints the status; headers in $tmp/h, body in $tmp/b
    curl "${tls[@]}" -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' "$@" \
        -F "frame=@$frames/a_0.jpg;type=image/jpeg" -F "frame=@$frames/a_1.jpg;type=image/jpeg" \
        -F "frame=@$frames/a_2.jpg;type=image/jpeg" -F "frame=@$frames/a_3.jpg;type=image/jpeg" "$base/score"
}

expect "$(score)" 401 "/score without a key -> 401"
expect "$(grep -ci '^WWW-Authenticate: Bearer' "$tmp/h")" 1 "  with WWW-Authenticate: Bearer"
expect "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$tmp/b")" unauthorized "  and error code unauthorized"
expect "$(score -H "Authorization: Bearer wrong-$key")" 401 "/score with a wrong key -> 401"
expect "$(score -H "Authorization: Basic $key")" 401 "/score with the key in another scheme -> 401"
expect "$(score -H "Authorization: Bearer $key")" 200 "/score with the key -> 200"
expect "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(0 <= d["fake_probability"] <= 1)' "$tmp/b")" True "  with a fake probability"
expect "$(score -H "Authorization: Bearer $other")" 200 "/score with the key given by its sha256 in the file -> 200"
expect "$(curl "${tls[@]}" -o /dev/null -w '%{http_code}' "$base/v1/model")" 401 "/v1/model without a key -> 401"
expect "$(curl "${tls[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "$base/v1/model")" 200 "/v1/model with the key -> 200"
expect "$(curl "${tls[@]}" -o /dev/null -w '%{http_code}' "$base/healthz")" 200 "/healthz needs no key"
expect "$(curl "${tls[@]}" -o /dev/null -w '%{http_code}' "$base/metrics")" 200 "/metrics needs no key (without --metrics-need-key)"
expect "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz" || true)" 000 "plain HTTP on the TLS port gets no HTTP answer"

handshake() {  # handshake <s_client protocol flag> [cipher]: prints the negotiated protocol or "refused: <reason>"
    local out
    out=$(openssl s_client -connect "127.0.0.1:$port" "$1" ${2:+-cipher "$2"} -CAfile "$tmp/cert.pem" </dev/null 2>&1 || true)
    if grep -q "^New, TLSv1" <<<"$out" && ! grep -q "Cipher is (NONE)" <<<"$out"; then
        grep -o "^New, TLSv1[.0-9]*" <<<"$out" | cut -d' ' -f2
    else
        echo "refused: $(grep -o 'alert [a-z ]*\|no protocols available\|wrong version number' <<<"$out" | head -1)"
    fi
}
expect "$(handshake -tls1_3)" TLSv1.3 "TLS 1.3 accepted"
expect "$(handshake -tls1_2)" TLSv1.2 "TLS 1.2 accepted"
# SECLEVEL=0 lets this client offer TLS 1.1 at all, so a refusal comes from the server.
expect "$(handshake -tls1_1 'DEFAULT:@SECLEVEL=0')" "refused: alert protocol version" "TLS 1.1 refused by the server (protocol_version alert)"
expect "$(curl "${tls[@]}" -o /dev/null -w '%{http_code}' --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' "$base/healthz" || true)" 000 "curl over TLS 1.1 gets no answer"

kill -TERM "$server"
rc=0; wait "$server" || rc=$?
server=
expect "$rc" 0 "SIGTERM -> exit 0"
expect "$(grep -cF -e "$key" -e "$other" "$tmp/server.log" || true)" 0 "no key appears in the server log ($(wc -l <"$tmp/server.log") lines)"

echo "tls_and_keys: $failures failed expectations"
rm -rf "$tmp"
exit $(( failures > 0 ))
