#!/usr/bin/env bash
# GetTile throughput: Tuilerie's WMTS RESTful tiles vs nginx serving the same tiles as static
# files. Same tiles, same shuffled URL list, same wrk settings (2 threads), at 8 and at 64
# connections. Tuilerie runs as a user runs it: the default configuration, so request logging
# at the default level `info` (LOG_LEVEL=warn to compare). The two servers are measured
# alternately, ROUNDS times DURATION each (this machine is a shared VM whose speed drifts; the
# order alternates), and the medians are compared.
# Prints req/s, p50 and p99 latency for each, and the ratios. Usage: benches/tiles_vs_nginx.sh
source "$(dirname "$0")/common.sh"
need gdalwarp wrk nginx curl python3 bc
tuilerie_release
bench_input
DURATION=${DURATION:-10s}; CONNECTIONS=${CONNECTIONS:-8 64}; ROUNDS=${ROUNDS:-5}
LOG_LEVEL=${LOG_LEVEL:-info}
PYR="$OUT/tiles_pyramid"
if [ ! -f "$PYR/pyramid.json" ]; then
  "$TUILERIE" pyramid build --input "$BIG" --tms PM --bottom 15 --top 9 --format TIFF_JPG_UINT8 --out "$PYR" 2>/dev/null
fi
cat > "$OUT/tiles.toml" <<TOML
[log]
level = "$LOG_LEVEL"
[[layers]]
name = "big"
kind = "pyramid"
pyramid = "$PYR/pyramid.json"
TOML
"$TUILERIE" serve --config "$OUT/tiles.toml" --data "$OUT/data" --listen 127.0.0.1:18082 >/dev/null 2>"$OUT/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; if [ -n "${NGINX_PID:-}" ]; then kill $NGINX_PID 2>/dev/null || true; fi' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:18082/health >/dev/null && break; sleep 0.1; done

# The tiles that hold data, from the descriptor; extracted once through the server for nginx.
python3 - "$PYR/pyramid.json" "$OUT" <<'PY'
import json, sys, os, urllib.request
desc = json.load(open(sys.argv[1])); out = sys.argv[2]
paths = []
for level in desc["levels"]:
    l = level["tile_limits"]
    for row in range(l["min_row"], l["max_row"] + 1):
        for col in range(l["min_col"], l["max_col"] + 1):
            paths.append(f"{level['id']}/{row}/{col}.jpeg")
root = os.path.join(out, "nginx_root")
kept = []
for p in paths:
    target = os.path.join(root, p)
    if not os.path.exists(target):
        try:
            data = urllib.request.urlopen(f"http://127.0.0.1:18082/wmts/big/normal/PM_9_15/{p}").read()
        except Exception:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "wb").write(data)
    kept.append(p)
import random
random.seed(42); random.shuffle(kept)
open(os.path.join(out, "urls_nginx.txt"), "w").write("".join(f"/{p}\n" for p in kept))
open(os.path.join(out, "urls_tuilerie.txt"), "w").write("".join(f"/wmts/big/normal/PM_9_15/{p}\n" for p in kept))
print(f"{len(kept)} tiles", file=sys.stderr)
PY

cat > "$OUT/nginx.conf" <<NGINX
worker_processes 2;
pid $OUT/nginx.pid;
error_log $OUT/nginx_error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  types { image/jpeg jpeg; }
  server { listen 127.0.0.1:18081; root $OUT/nginx_root; }
}
NGINX
nginx -c "$OUT/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
sleep 0.5

write_urls_lua "$OUT/urls.lua"
for conns in $CONNECTIONS; do
run() { wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$OUT/urls.lua" "$1" -- "$2"; }
for round in $(seq "$ROUNDS"); do
  # Alternate which server goes first, so that drift favours neither.
  if [ $((round % 2)) = 1 ]; then
    run http://127.0.0.1:18081 "$OUT/urls_nginx.txt" >"$OUT/wrk_nginx_${conns}_$round.txt"
    run http://127.0.0.1:18082 "$OUT/urls_tuilerie.txt" >"$OUT/wrk_tuilerie_${conns}_$round.txt"
  else
    run http://127.0.0.1:18082 "$OUT/urls_tuilerie.txt" >"$OUT/wrk_tuilerie_${conns}_$round.txt"
    run http://127.0.0.1:18081 "$OUT/urls_nginx.txt" >"$OUT/wrk_nginx_${conns}_$round.txt"
  fi
done
done
RSS=$(peak_rss_kib $SERVER)

python3 - "$OUT" "$ROUNDS" "$CONNECTIONS" "$DURATION" "$RSS" "$LOG_LEVEL" <<'PY'
import re, statistics, sys
out, rounds, conns_list, duration, rss, level = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4], sys.argv[5], sys.argv[6]
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    lat = {}
    for p in ("50%", "99%"):
        m = re.search(r"^\s+" + re.escape(p) + r"\s+([0-9.]+)(us|ms|s)", text, re.M)
        lat[p] = float(m.group(1)) * unit[m.group(2)]
    return rps, lat["50%"], lat["99%"]
print(f"\nGetTile, median of {rounds} × {duration} (alternating); tuilerie log level {level}")
for conns in conns_list:
    results = {}
    for name in ("nginx", "tuilerie"):
        runs = [parse(f"{out}/wrk_{name}_{conns}_{r}.txt") for r in range(1, rounds + 1)]
        results[name] = [statistics.median(v) for v in zip(*runs)] + [[round(r[0]) for r in runs]]
    print(f"\n{conns} connections")
    print(f"{'':22} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}   rounds (req/s)")
    for name, label in (("nginx", "nginx (static files)"), ("tuilerie", "tuilerie (WMTS REST)")):
        rps, p50, p99, runs = results[name]
        print(f"{label:22} {rps:10.0f} {p50:8.2f} {p99:8.2f}   {runs}")
    ratio = results["tuilerie"][0] / results["nginx"][0]
    p99_ratio = results["tuilerie"][2] / results["nginx"][2]
    print(f"ratio req/s {ratio:.2f}× (goal ≥ 0.9×), p99 {p99_ratio:.2f}× (goal ≤ 2×)")
print(f"tuilerie peak RSS {rss} KiB")
PY
