# Starts the servers the tests and benchmarks run against, on 127.0.0.1: a throwaway PostgreSQL
# cluster and a single-node Garage (S3). Source it; it exports MEDIADRIVE_TEST_POSTGRES_URL,
# MEDIADRIVE_TEST_S3_URL and the AWS credentials, and stops everything when the shell exits.
# PostgreSQL runs without fsync for tests; set MEDIADRIVE_PG_OPTIONS="" for a durable cluster.

RUN=$(mktemp -d /tmp/mediadrive-test.XXXXXX)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# initdb refuses to run as root; the cluster then belongs to the postgres user.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$RUN/pg" "$RUN/pgsock"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$RUN"

PGPORT=$(free_port)
command -v garage >/dev/null || { echo "garage is not installed (cargo install --locked garage)" >&2; exit 1; }
GARAGE_PID=
cleanup() {
    as_pg "$PGBIN/pg_ctl" -D "$RUN/pg" -m immediate stop >/dev/null 2>&1 || true
    [ -n "$GARAGE_PID" ] && kill "$GARAGE_PID" 2>/dev/null || true
    rm -rf "$RUN"
}
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$RUN/pg" -A trust -U mediadrive -E UTF8 --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$RUN/pg" -l "$RUN/pg.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $PGPORT -k $RUN/pgsock -c max_connections=500 ${MEDIADRIVE_PG_OPTIONS--c fsync=off -c synchronous_commit=off}" \
    start >/dev/null
export MEDIADRIVE_TEST_POSTGRES_URL="postgres://mediadrive@127.0.0.1:$PGPORT/postgres"

S3PORT=$(free_port)
RPCPORT=$(free_port)
mkdir -p "$RUN/garage"
cat > "$RUN/garage/garage.toml" <<GARAGE
metadata_dir = "$RUN/garage/meta"
data_dir = "$RUN/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPCPORT"
rpc_public_addr = "127.0.0.1:$RPCPORT"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$S3PORT"
root_domain = ".s3.garage.localhost"
GARAGE
g() { garage -c "$RUN/garage/garage.toml" "$@"; }
# Started directly rather than through g(), so that $! is garage itself and cleanup stops it.
garage -c "$RUN/garage/garage.toml" server > "$RUN/garage/server.log" 2>&1 &
GARAGE_PID=$!
for _ in $(seq 100); do g status >/dev/null 2>&1 && break; sleep 0.1; done
g layout assign -z dc1 -c 1G "$(g node id -q 2>/dev/null | cut -d@ -f1)" >/dev/null
g layout apply --version 1 >/dev/null
g bucket create mediadrive-test >/dev/null
KEYINFO=$(g key create mediadrive-test)
g bucket allow --read --write --owner mediadrive-test --key mediadrive-test >/dev/null
export AWS_ACCESS_KEY_ID=$(echo "$KEYINFO" | awk '/Key ID:/ {print $3}')
export AWS_SECRET_ACCESS_KEY=$(echo "$KEYINFO" | awk '/Secret key:/ {print $3}')
export MEDIADRIVE_TEST_S3_URL="s3://mediadrive-test?endpoint=http://127.0.0.1:$S3PORT&region=garage&path_style=true"
# The dashboard uploads from the browser straight to the bucket, which must allow the pages of the
# servers' origins (any port on 127.0.0.1) to PUT there: S3's PutBucketCors, signed (SigV4) here.
python3 - "$S3PORT" <<'CORS'
import base64, datetime, hashlib, hmac, os, sys, urllib.request
port, bucket, region = sys.argv[1], "mediadrive-test", "garage"
body = (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
        b"<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>"
        b"<AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader>"
        b"<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds>"
        b"</CORSRule></CORSConfiguration>")
now = datetime.datetime.now(datetime.timezone.utc)
stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
headers = {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode(),
           "host": "127.0.0.1:" + port, "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
           "x-amz-date": stamp}
signed = ";".join(sorted(headers))
request = "\n".join(["PUT", "/" + bucket, "cors=",
                     "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers)), signed,
                     headers["x-amz-content-sha256"]])
scope = "%s/%s/s3/aws4_request" % (day, region)
key = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
for part in (day, region, "s3", "aws4_request"):
    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
    os.environ["AWS_ACCESS_KEY_ID"], scope, signed, signature)
del headers["host"]
url = "http://127.0.0.1:%s/%s?cors=" % (port, bucket)
urllib.request.urlopen(urllib.request.Request(url, data=body, method="PUT", headers=headers))
CORS
