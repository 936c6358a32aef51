#!/usr/bin/env bash
# The topology of deploy/compose.yaml as plain processes, for machines without containers:
# a PostgreSQL cluster (a temporary one, unless TUILERIE_CATALOG_URL names yours), N Tuilerie
# replicas on one shared data directory, nginx in front on port 8080 (round robin). Ctrl-C
# stops everything it started.
#
#   deploy/replicas.sh [--replicas N] [--port P] [--data DIR] [--config FILE] [--binary PATH]
#
# Needs PostgreSQL's binaries (Debian: postgresql) unless TUILERIE_CATALOG_URL is set, and
# nginx. On several machines, run the replicas on each with the same TUILERIE_CATALOG_URL and
# a data directory every machine mounts (NFS…), and list them all in nginx's upstream.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLICAS=3
PORT=8080
DATA=""
BINARY=""
CONFIG=()
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) REPLICAS="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --binary) BINARY="$2"; shift 2 ;;
    --config) CONFIG=(--config "$2"); shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ -z "$BINARY" ]; then
  (cd "$ROOT" && cargo build --release --locked -q -p tuilerie)
  BINARY="$ROOT/target/release/tuilerie"
fi
WORK="$(mktemp -d -t tuilerie-replicas-XXXXXX)"
DATA="${DATA:-$WORK/data}"
mkdir -p "$DATA"
PIDS=()
PG_STOP=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$PG_STOP" ] && eval "$PG_STOP" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# 1. The catalog.
if [ -z "${TUILERIE_CATALOG_URL:-}" ]; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql), or set TUILERIE_CATALOG_URL" >&2; exit 1; }
  AS=""
  if [ "$(id -u)" = 0 ]; then AS="runuser -u postgres --"; chmod 755 "$WORK"; mkdir -p "$WORK/pg"; chown postgres: "$WORK/pg"; fi
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  $AS "$PG_BIN/initdb" -D "$WORK/pg/data" --auth=trust --username=postgres --no-sync -E UTF8 --locale=C >/dev/null
  $AS "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -w -l "$WORK/pg/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/pg/data -c max_connections=200" start >/dev/null
  PG_STOP="$AS '$PG_BIN/pg_ctl' -D '$WORK/pg/data' -m fast stop"
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE tuilerie" postgres
  export TUILERIE_CATALOG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/tuilerie"
  echo "catalog: PostgreSQL on 127.0.0.1:$PG_PORT (temporary cluster)"
fi

# 2. The replicas: the first alone (it migrates the catalog and writes the API token), then
#    the others.
UPSTREAM=""
for k in $(seq 1 "$REPLICAS"); do
  port=$((PORT + k))
  "$BINARY" serve "${CONFIG[@]}" --listen "127.0.0.1:$port" --data "$DATA" >"$WORK/replica-$k.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/health" >/dev/null || { echo "replica $k did not start:" >&2; cat "$WORK/replica-$k.log" >&2; exit 1; }
  UPSTREAM="$UPSTREAM    server 127.0.0.1:$port max_fails=3 fail_timeout=5s;
"
  echo "replica $k: http://127.0.0.1:$port (log $WORK/replica-$k.log)"
done

# 3. nginx in front.
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  upstream tuilerie {
$UPSTREAM    keepalive 64;
  }
  server {
    listen 127.0.0.1:$PORT;
    client_max_body_size 0;
    proxy_request_buffering off;
    location / {
      proxy_pass http://tuilerie;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout;
    }
  }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 0.3
echo "nginx: http://127.0.0.1:$PORT (API token: $(cat "$DATA/api-token"))"
echo "data: $DATA — Ctrl-C stops everything"
echo "ready" >"$WORK/ready"
[ -n "${TUILERIE_REPLICAS_READY:-}" ] && echo "$TUILERIE_CATALOG_URL" >"$TUILERIE_REPLICAS_READY"
wait
