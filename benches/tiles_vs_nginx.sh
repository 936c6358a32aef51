#!/usr/bin/env bash
# GetTile throughput: Tuilerie's WMTS RESTful tiles vs nginx serving the same tiles as static
# files. Same tiles, same random URL order, same wrk settings (2 threads, 64 connections, 20 s).
# Prints req/s, p50 and p99 latency for each, and the ratios. Usage: benches/tiles_vs_nginx.sh
source "$(dirname "$0")/common.sh"
need gdalwarp wrk nginx curl python3 bc
tuilerie_release
bench_input
DURATION=${DURATION:-20s}; CONNECTIONS=${CONNECTIONS:-64}
PYR="$OUT/tiles_pyramid"
if [ ! -f "$PYR/pyramid.json" ]; then
  "$TUILERIE" pyramid build --input "$BIG" --tms PM --bottom 15 --top 9 --format TIFF_JPG_UINT8 --out "$PYR" 2>/dev/null
fi
cat > "$OUT/tiles.toml" <<TOML
[log]
level = "warn"
[[layers]]
name = "big"
kind = "pyramid"
pyramid = "$PYR/pyramid.json"
TOML
"$TUILERIE" serve --config "$OUT/tiles.toml" --listen 127.0.0.1:18082 >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; [ -n "${NGINX_PID:-}" ] && kill $NGINX_PID 2>/dev/null; true' EXIT
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

cat > "$OUT/urls.lua" <<'LUA'
local urls = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do urls[#urls + 1] = line end
  i = math.random(#urls)
end
request = function()
  i = i % #urls + 1
  return wrk.format("GET", urls[i])
end
LUA
run() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$OUT/urls.lua" "$1" -- "$2"; }
run http://127.0.0.1:18081 "$OUT/urls_nginx.txt" >"$OUT/wrk_nginx.txt"
run http://127.0.0.1:18082 "$OUT/urls_tuilerie.txt" >"$OUT/wrk_tuilerie.txt"
RSS=$(peak_rss_kib $SERVER)

field() { awk -v k="$2" '$1==k {print $2}' "$1"; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
to_ms() { python3 -c "import sys;v=sys.argv[1];u={'us':1e-3,'ms':1,'s':1e3};import re;m=re.match(r'([0-9.]+)(us|ms|s)',v);print(float(m.group(1))*u[m.group(2)])" "$1"; }
n_rps=$(rps "$OUT/wrk_nginx.txt"); t_rps=$(rps "$OUT/wrk_tuilerie.txt")
n50=$(to_ms "$(field "$OUT/wrk_nginx.txt" 50%)"); n99=$(to_ms "$(field "$OUT/wrk_nginx.txt" 99%)")
t50=$(to_ms "$(field "$OUT/wrk_tuilerie.txt" 50%)"); t99=$(to_ms "$(field "$OUT/wrk_tuilerie.txt" 99%)")
printf '\n%-22s %12s %10s %10s\n' "GetTile ($CONNECTIONS conn, $DURATION)" "req/s" "p50 ms" "p99 ms"
printf '%-22s %12s %10.2f %10.2f\n' "nginx (static files)" "$n_rps" "$n50" "$n99"
printf '%-22s %12s %10.2f %10.2f\n' "tuilerie (WMTS REST)" "$t_rps" "$t50" "$t99"
printf 'ratio req/s %.2f× (goal ≥ 0.9×), p99 %.2f× (goal ≤ 2×); tuilerie peak RSS %s KiB\n' \
  "$(echo "$t_rps / $n_rps" | bc -l)" "$(echo "$t99 / $n99" | bc -l)" "$RSS"
