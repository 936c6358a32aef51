#!/usr/bin/env bash
# GetTile throughput: Tuilerie's WMTS RESTful tiles vs nginx serving the same tiles as static
# files. Same tiles, same shuffled URL list, same wrk settings (2 threads), at 8 and at 64
# connections. Tuilerie runs as a user runs it: the default configuration, so request logging
# at the default level `info` (LOG_LEVEL=warn to compare). The two servers are measured
# alternately, ROUNDS times DURATION each (this machine is a shared VM whose speed drifts; the
# order alternates), and the medians are compared.
# Prints req/s, p50 and p99 latency for each, and the ratios. Then the cost of request logging:
# the same tiles from a second Tuilerie at log level `warn`, alternating with the first (at
# LOG_LEVEL) ROUNDS times, Tuilerie's CPU time per request of each (from /proc; wrk at 8
# connections); goal: info ≤ 1.05× warn. Usage: benches/tiles_vs_nginx.sh
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
trap 'kill $SERVER ${QUIET:-} 2>/dev/null || true; if [ -n "${NGINX_PID:-}" ]; then kill $NGINX_PID 2>/dev/null || true; fi' EXIT
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

start_static_nginx "$OUT/nginx" "$OUT/nginx_root" 18081 "image/jpeg jpeg"
NGINX_PID=$STATIC_PID

wrk_alternating "$OUT" nginx http://127.0.0.1:18081 "$OUT/urls_nginx.txt" tuilerie http://127.0.0.1:18082 "$OUT/urls_tuilerie.txt"
RSS=$(peak_rss_kib $SERVER)

echo
echo "GetTile, median of $ROUNDS × $DURATION (alternating); tuilerie log level $LOG_LEVEL (p99 goal ≤ 2×)"
python3 "$BENCH_DIR/wrk_table.py" "$OUT" nginx "nginx (static files)" tuilerie "tuilerie (WMTS REST)" 0.9 "$ROUNDS" "$CONNECTIONS"
echo "tuilerie peak RSS $RSS KiB"

# The cost of request logging: CPU per request at LOG_LEVEL vs at warn, same tiles, alternating.
sed "s/^level = .*/level = \"warn\"/" "$OUT/tiles.toml" >"$OUT/tiles_warn.toml"
"$TUILERIE" serve --config "$OUT/tiles_warn.toml" --data "$OUT/data" --listen 127.0.0.1:18083 >/dev/null 2>"$OUT/serve_warn.log" &
QUIET=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18083/health >/dev/null && break; sleep 0.1; done
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
: >"$OUT/log_cost.txt"
for round in $(seq "$ROUNDS"); do
  for pair in "$LOG_LEVEL:$SERVER:18082" "warn:$QUIET:18083"; do
    IFS=: read -r level pid port <<<"$pair"
    t0=$(cpu_ticks "$pid")
    n=$(wrk -t2 -c8 -d"$DURATION" -s "$OUT/urls.lua" "http://127.0.0.1:$port" -- "$OUT/urls_tuilerie.txt" \
      | awk '/requests in/ {print $1}')
    echo "$level $n $(( $(cpu_ticks "$pid") - t0 ))" >>"$OUT/log_cost.txt"
  done
done
python3 - "$OUT/log_cost.txt" "$(getconf CLK_TCK)" "$LOG_LEVEL" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
hz, level = int(sys.argv[2]), sys.argv[3]
per = {}
for name, requests, ticks in rows:
    per.setdefault(name, []).append(int(ticks) / hz * 1e6 / max(int(requests), 1))
print(f"\nRequest logging: Tuilerie CPU per tile, median of {len(per[level])} alternating rounds")
for name, values in per.items():
    print(f"  {name:5} {statistics.median(values):6.2f} µs  (rounds: {', '.join(f'{v:.2f}' for v in values)})")
if level != "warn":
    ratio = statistics.median(per[level]) / statistics.median(per["warn"])
    print(f"  {level} / warn = {ratio:.3f} (goal ≤ 1.05)")
PY
