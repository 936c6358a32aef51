#!/usr/bin/env bash
# GetMap throughput: Tuilerie's WMS vs MapServer in its production setup (Debian's
# cgi-mapserver as FastCGI, two processes spawned by spawn-fcgi, behind nginx), drawing the
# same GeoPackage with the same style (the SLD for Tuilerie, the equivalent mapfile CLASSes for
# MapServer, which has no SLD directive in mapfiles; per-request SLD_BODY would only slow it).
#
# Data: 10 000 polygons over France (a jittered grid in Lambert-93, 5 categories, names), made
# once with ogr2ogr. Requests: 1 000 seeded random GetMap in EPSG:3857 (reprojected on the fly
# by both), mixed 256×256 and 1024×768, scales from the whole country to a few streets, the
# same URL list for both, cycled by a wrk Lua script at 1, 8 and 32 connections. Tuilerie's
# image cache is off (cache_bytes = 0) so that every request is rendered, as MapServer does.
# Prints req/s, p50, p99 and peak RSS for both, and the ratios. Usage: benches/wms_vs_mapserver.sh
source "$(dirname "$0")/common.sh"
need ogr2ogr wrk nginx curl python3 spawn-fcgi
need_mapserver
tuilerie_release
DURATION=${DURATION:-10s}
W="$OUT/wms"
mkdir -p "$W"

# 1. Data, style and mapfile.
make_cells "$W"

cat >"$W/tuilerie.toml" <<TOML
[log]
level = "warn"
[data]
dir = "$W/data"
[wms]
cache_bytes = 0
[[layers]]
name = "cells"
kind = "vector"
source = "$W/cells.gpkg"
table = "cells"
style = "$W/cells.sld"
TOML

# 2. The 1 000 requests.
python3 - "$W" <<'PY'
import math, random, sys
out = sys.argv[1]
random.seed(42)
# The data's extent in EPSG:3857, roughly.
xmin, ymin, xmax, ymax = -560_000.0, 5_130_000.0, 1_050_000.0, 6_660_000.0
paths = []
for _ in range(1000):
    w, h = random.choice([(256, 256), (1024, 768)])
    res = 10 ** random.uniform(math.log10(2.0), math.log10(1600.0))   # 2 m to 1.6 km per pixel
    cx, cy = random.uniform(xmin, xmax), random.uniform(ymin, ymax)
    bbox = f"{cx - w * res / 2:.2f},{cy - h * res / 2:.2f},{cx + w * res / 2:.2f},{cy + h * res / 2:.2f}"
    paths.append(f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cells&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH={w}&HEIGHT={h}&FORMAT=image/png")
open(f"{out}/urls_tuilerie.txt", "w").write("".join(f"/wms?{p}\n" for p in paths))
open(f"{out}/urls_mapserver.txt", "w").write("".join(f"/mapserv?map={out}/bench.map&{p}\n" for p in paths))
PY

# 3. Servers.
"$TUILERIE" serve --config "$W/tuilerie.toml" --data "$W/data" --listen 127.0.0.1:18092 >"$W/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; if [ -n "${NGINX_PID:-}" ]; then kill $NGINX_PID 2>/dev/null || true; fi; pkill -f /usr/lib/cgi-bin/mapserv 2>/dev/null || true' EXIT
for _ in $(seq 600); do curl -sf http://127.0.0.1:18092/health >/dev/null && break; sleep 0.1; done
start_mapserver "$W" 18091

# Both must draw the map before they are timed.
first=$(sed -n 2p "$W/urls_tuilerie.txt")
curl -sf -o "$W/check_tuilerie.png" "http://127.0.0.1:18092$first" || { echo "tuilerie failed: $(curl -s "http://127.0.0.1:18092$first" | head -c 400)"; exit 1; }
first=$(sed -n 2p "$W/urls_mapserver.txt")
curl -sf -o "$W/check_mapserver.png" "http://127.0.0.1:18091$first" || { echo "mapserver failed: $(curl -s "http://127.0.0.1:18091$first" | head -c 400)"; exit 1; }
file "$W/check_tuilerie.png" "$W/check_mapserver.png" 2>/dev/null || true

write_urls_lua "$W/urls.lua"
run() { wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"$DURATION" --timeout 30s --latency -s "$W/urls.lua" "$2" -- "$3"; }
# ROUNDS rounds per concurrency, alternating which server goes first (this VM's speed drifts);
# the medians are compared.
ROUNDS=${ROUNDS:-3}
for c in 1 8 32; do
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
      run "$c" http://127.0.0.1:18091 "$W/urls_mapserver.txt" >"$W/wrk_mapserver_${c}_$round.txt"
      run "$c" http://127.0.0.1:18092 "$W/urls_tuilerie.txt" >"$W/wrk_tuilerie_${c}_$round.txt"
    else
      run "$c" http://127.0.0.1:18092 "$W/urls_tuilerie.txt" >"$W/wrk_tuilerie_${c}_$round.txt"
      run "$c" http://127.0.0.1:18091 "$W/urls_mapserver.txt" >"$W/wrk_mapserver_${c}_$round.txt"
    fi
  done
done
RSS_T=$(peak_rss_kib $SERVER)
RSS_M=0
for pid in $(pgrep -f /usr/lib/cgi-bin/mapserv); do RSS_M=$((RSS_M + $(peak_rss_kib "$pid"))); done

python3 - "$W" "$DURATION" "$RSS_T" "$RSS_M" "$ROUNDS" <<'PY'
import re, statistics, sys
out, duration, rss_t, rss_m, rounds = sys.argv[1:6]
rounds = int(rounds)
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    lat = {}
    for p in ("50%", "99%"):
        m = re.search(r"^\s+" + re.escape(p) + r"\s+([0-9.]+)(us|ms|s)", text, re.M)
        lat[p] = float(m.group(1)) * unit[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, lat["50%"], lat["99%"], int(errors.group(1)) if errors else 0
print(f"\nGetMap, 1 000 random EPSG:3857 maps of 10 000 polygons, median of {rounds} × {duration} (alternating)")
print(f"{'conns':>5} {'server':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}   rounds (req/s)")
for c in (1, 8, 32):
    rows = {}
    for name in ("mapserver", "tuilerie"):
        runs = [parse(f"{out}/wrk_{name}_{c}_{r}.txt") for r in range(1, rounds + 1)]
        rows[name] = [statistics.median(v) for v in zip(*runs)]
        rps, p50, p99, errors = rows[name]
        print(f"{c:5} {name:10} {rps:8.1f} {p50:8.1f} {p99:8.1f} {errors:7.0f}   {[round(r[0], 1) for r in runs]}")
    t, m = rows["tuilerie"], rows["mapserver"]
    print(f"{'':5} ratio      {t[0] / m[0]:7.2f}× req/s, p99 {t[2] / m[2]:.2f}×")
print(f"peak RSS: tuilerie {rss_t} KiB, mapserver (2 processes) {rss_m} KiB")
PY
