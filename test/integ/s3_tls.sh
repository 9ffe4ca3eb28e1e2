#!/bin/bash
# test/integ/s3_tls.sh - agora-s3d over HTTPS (listen_tls, certificate):
# awscli verifying a certificate for 127.0.0.1 puts and gets byte-equal,
# plain HTTP beside it still answers, a client speaking plain HTTP to the
# TLS port or hanging up mid-handshake leaves the gateway serving, and a
# listen_tls without a certificate is refused at start.
. "$(dirname "$0")/lib.sh"
command -v aws >/dev/null || skip "awscli is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
export AWS_PAGER=""

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
	-out "$T/cert.pem" 2>"$T/openssl.err" || fail "openssl req: $(cat "$T/openssl.err")"
cat "$T/key.pem" "$T/cert.pem" >"$T/server.pem"

step "listen_tls without a certificate is refused"
S3_PORT=$(free_port)
TLS_PORT=$(free_port)
cp "$CONF" "$T/bad.conf"
printf '\n[s3]\nlisten_tls = 127.0.0.1:%s\n' "$TLS_PORT" >>"$T/bad.conf"
rc=0
timeout "$AGORA_TIMEOUT" "$S3D" -c "$T/bad.conf" >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q "needs a certificate" "$T/out" ||
	fail "listen_tls with no certificate: exit $rc, $(cat "$T/out")"

step "HTTPS and HTTP side by side"
cat >>"$CONF" <<CONF

[s3]
listen = 127.0.0.1:$S3_PORT
listen_tls = 127.0.0.1:$TLS_PORT
certificate = $T/server.pem
pidfile = $T/s3d.pid
log = $T/s3d.log
threads = 8
CONF
s3d_start
TLS_URL=https://127.0.0.1:$TLS_PORT
tlsc() { timeout "$AGORA_TIMEOUT" aws --endpoint-url "$TLS_URL" --ca-bundle "$T/cert.pem" "$@"; }
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "$TLS_URL/") ||
	fail "curl over HTTPS failed"
[ "$code" = 403 ] || fail "anonymous GET / over HTTPS: $code, want 403"
tlsc s3 mb s3://secure >/dev/null || fail "create bucket over HTTPS"
mkdata "$T/f" $((3 << 20)) random
tlsc s3 cp --no-progress "$T/f" s3://secure/f >/dev/null || fail "PUT over HTTPS"
tlsc s3 cp --no-progress s3://secure/f "$T/f.tls" >/dev/null || fail "GET over HTTPS"
cmp -s "$T/f" "$T/f.tls" || fail "GET over HTTPS differs"
awsc s3 cp --no-progress s3://secure/f "$T/f.http" >/dev/null || fail "GET over HTTP"
cmp -s "$T/f" "$T/f.http" || fail "GET over HTTP differs"
same "$T/f" /secure/f

step "a certificate the client does not trust is refused by the client"
expect_fail "awscli without the CA" "CERTIFICATE_VERIFY_FAILED" \
	timeout "$AGORA_TIMEOUT" aws --endpoint-url "$TLS_URL" s3 ls s3://secure

step "plain HTTP to the TLS port, and a hang-up mid-handshake: still serving"
python3 - "$TLS_PORT" <<'PY' || fail "bad TLS clients: $?"
import socket, sys
for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\xff\x01"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(junk)
    try:
        s.recv(4096)
    except OSError:
        pass
    s.close()
PY
kill -0 "$S3D_PID" 2>/dev/null || fail "agora-s3d died"
tlsc s3 ls s3://secure | grep -q ' f$' || fail "listing over HTTPS after the bad clients"

fsck_clean
echo "ok: $steps steps"
