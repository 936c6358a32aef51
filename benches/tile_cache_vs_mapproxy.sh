#!/usr/bin/env bash
# Tiles of a vector layer (the tile cache): seeding, cold first requests and cached tiles.
#
# Data: the 10 000 polygons over France of the WMS bench (make_cells), with labels below
# 1:500 000. Peers, in their production set-ups:
# - MapProxy 7 (PyPI, in a venv under benches/out) with MapServer as its WMS source (Debian's
#   cgi-mapserver as FastCGI, two processes, behind nginx, the WMS bench's set-up), a file
#   cache on GLOBAL_WEBMERCATOR, metatiles 4×4 with a 64-pixel buffer (Tuilerie's defaults),
#   served by gunicorn with 2 workers;
# - nginx serving the cached tiles as static files.
# Tuilerie runs with its default configuration and log level.
#
# 1. Seeding levels $LEVELS over the data's extent: `tuilerie seed --threads 2` vs
#    `mapproxy-seed -c 2`, empty caches; tiles/s over the same tile count.
# 2. Cold first requests: $COLD random tiles of levels 11–14 inside the data (the same list
#    for both), asked one after the other from empty caches; p50/p99 latency.
# 3. Cached tiles: every seeded tile, shuffled, through WMTS vs nginx serving the same files;
#    wrk at 8 and 64 connections, $ROUNDS alternating rounds of $DURATION, medians.
# Goals (issue): seeding ≥ 5× MapProxy's tiles/s; cached tiles ≥ 0.9× nginx's req/s.
# Usage: benches/tile_cache_vs_mapproxy.sh
source "$(dirname "$0")/common.sh"
need ogr2ogr wrk nginx curl python3 spawn-fcgi bc
need_mapserver
tuilerie_release
LEVELS=${LEVELS:-0-11}; COLD=${COLD:-200}
DURATION=${DURATION:-10s}; CONNECTIONS=${CONNECTIONS:-8 64}; ROUNDS=${ROUNDS:-3}
T="$OUT/tile_cache"
make_cells "$T"
VENV="$OUT/mapproxy-venv"
if [ ! -x "$VENV/bin/mapproxy-seed" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "MapProxy==7.0.0" "gunicorn==23.0.0" "pyproj==3.7.2"
fi
FIRST=${LEVELS%-*}; LAST=${LEVELS#*-}

# The data's extent in degrees, and the tiles of each level over it (the same for both).
read -r W S E N < <("$VENV/bin/python" - "$T/cells.gpkg" <<'PY'
import subprocess, sys, re
from pyproj import Transformer
text = subprocess.run(["ogrinfo", "-so", "-al", sys.argv[1]], capture_output=True, text=True).stdout
x0, y0, x1, y1 = map(float, re.search(r"Extent: \(([-0-9.]+), ([-0-9.]+)\) - \(([-0-9.]+), ([-0-9.]+)\)", text).groups())
t = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
xs, ys = [], []
for i in range(21):
    for x, y in ((x0 + (x1 - x0) * i / 20, y0), (x0 + (x1 - x0) * i / 20, y1), (x0, y0 + (y1 - y0) * i / 20), (x1, y0 + (y1 - y0) * i / 20)):
        lon, lat = t.transform(x, y)
        xs.append(lon); ys.append(lat)
print(min(xs), min(ys), max(xs), max(ys))
PY
)
python3 - "$W" "$S" "$E" "$N" "$FIRST" "$LAST" "$COLD" "$T" <<'PY'
import math, random, sys
w, s, e, n = map(float, sys.argv[1:5]); first, last, cold = map(int, sys.argv[5:8]); out = sys.argv[8]
def tile(lon, lat, z):
    k = 2 ** z
    x = int((lon + 180) / 360 * k)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * k)
    return min(max(x, 0), k - 1), min(max(y, 0), k - 1)
seeded = []
for z in range(first, last + 1):
    (x0, y0), (x1, y1) = tile(w, n, z), tile(e, s, z)
    seeded += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
random.seed(42); random.shuffle(seeded)
open(f"{out}/seeded.txt", "w").write("".join(f"{z} {x} {y}\n" for z, x, y in seeded))
# Cold tiles: random points inside the data's extent, levels 11 to 14, distinct metatiles.
picked, metas = [], set()
while len(picked) < cold:
    z = random.randint(11, 14)
    x, y = tile(random.uniform(w, e), random.uniform(s, n), z)
    if (z, x // 4, y // 4) in metas:
        continue
    metas.add((z, x // 4, y // 4)); picked.append((z, x, y))
open(f"{out}/cold.txt", "w").write("".join(f"{z} {x} {y}\n" for z, x, y in picked))
print(f"{len(seeded)} tiles in levels {first}-{last}; {len(picked)} cold tiles", file=sys.stderr)
PY
TILES=$(wc -l <"$T/seeded.txt")

cat >"$T/tuilerie.toml" <<TOML
[data]
dir = "$T/data"
[tile_cache]
dir = "$T/tuilerie_cache"
[[layers]]
name = "cells"
kind = "vector"
source = "$T/cells.gpkg"
table = "cells"
style = "$T/cells.sld"
TOML
cat >"$T/mapproxy.yaml" <<YAML
services:
  demo:
  wmts:
  tms:
layers:
  - name: cells
    title: cells
    sources: [cells_cache]
caches:
  cells_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [cells_wms]
    format: image/png
    meta_size: [4, 4]
    meta_buffer: 64
    cache:
      type: file
      directory: $T/mapproxy_cache
sources:
  cells_wms:
    type: wms
    supported_srs: ['EPSG:3857']
    req:
      url: http://127.0.0.1:18191/mapserv?map=$T/bench.map
      layers: cells
      transparent: true
YAML
cat >"$T/seed.yaml" <<YAML
seeds:
  cells:
    caches: [cells_cache]
    grids: [GLOBAL_WEBMERCATOR]
    levels:
      from: $FIRST
      to: $LAST
    coverages: [data]
coverages:
  data:
    bbox: [$W, $S, $E, $N]
    srs: 'EPSG:4326'
YAML

start_mapserver "$T" 18191
SERVER=""; GUNICORN=""
stop_servers() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; fi
  if [ -n "$GUNICORN" ]; then kill "$GUNICORN" 2>/dev/null || true; fi
  SERVER=""; GUNICORN=""; sleep 0.5
}
trap 'stop_servers; kill $NGINX_PID 2>/dev/null || true; [ -n "${STATIC_PID:-}" ] && kill $STATIC_PID 2>/dev/null; pkill -f /usr/lib/cgi-bin/mapserv 2>/dev/null || true' EXIT
start_servers() {
  "$TUILERIE" serve --config "$T/tuilerie.toml" --listen 127.0.0.1:18192 >/dev/null 2>"$T/serve.log" &
  SERVER=$!
  (cd "$T" && exec "$VENV/bin/gunicorn" -w 2 -b 127.0.0.1:18193 --log-level warning "mapproxy.wsgiapp:make_wsgi_app('$T/mapproxy.yaml')" 2>"$T/gunicorn.log") &
  GUNICORN=$!
  for _ in $(seq 600); do
    curl -sf http://127.0.0.1:18192/health >/dev/null && curl -sf -o /dev/null http://127.0.0.1:18193/demo/ && return 0
    sleep 0.1
  done
  echo "a server did not start: $(tail -3 "$T/serve.log" "$T/gunicorn.log")" >&2
  exit 1
}

# The layer is integrated (its GeoPackage copied into the data directory) before anything is
# timed: a first start of the server does it.
start_servers; stop_servers

# 1. Seeding.
rm -rf "$T/tuilerie_cache" "$T/mapproxy_cache"
started=$(date +%s.%N)
"$TUILERIE" seed --config "$T/tuilerie.toml" --layer cells --levels "$LEVELS" --threads 2 2>"$T/seed_tuilerie.log"
SEED_T=$(echo "$(date +%s.%N) - $started" | bc)
started=$(date +%s.%N)
(cd "$T" && "$VENV/bin/mapproxy-seed" -f "$T/mapproxy.yaml" -s "$T/seed.yaml" -c 2 >"$T/seed_mapproxy.log" 2>&1)
SEED_M=$(echo "$(date +%s.%N) - $started" | bc)

# 2. Cached tiles through Tuilerie and through nginx (the same bytes, exported once).
start_servers
python3 - "$T" <<'PY'
import http.client, os, sys
out = sys.argv[1]
connection = http.client.HTTPConnection("127.0.0.1", 18192)
root = os.path.join(out, "static")
tuilerie, static = [], []
for line in open(f"{out}/seeded.txt"):
    z, x, y = line.split()
    path = f"/wmts/cells/normal/PM/{z}/{y}/{x}.png"
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(f"{path}: {response.status}")
    target = os.path.join(root, z, y, f"{x}.png")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    open(target, "wb").write(body)
    tuilerie.append(path); static.append(f"/{z}/{y}/{x}.png")
open(f"{out}/urls_tuilerie.txt", "w").write("".join(p + "\n" for p in tuilerie))
open(f"{out}/urls_nginx.txt", "w").write("".join(p + "\n" for p in static))
PY
RENDERS=$(curl -s http://127.0.0.1:18192/metrics | awk '/^tuilerie_tile_cache_renders_total/ {print $2}')
start_static_nginx "$T/static" "$T/static" 18194 "image/png png"
wrk_alternating "$T" nginx http://127.0.0.1:18194 "$T/urls_nginx.txt" tuilerie http://127.0.0.1:18192 "$T/urls_tuilerie.txt"
RSS=$(peak_rss_kib "$SERVER")
stop_servers

# 3. Cold first requests, from empty caches.
rm -rf "$T/tuilerie_cache" "$T/mapproxy_cache"
start_servers
python3 - "$T" >"$T/cold.txt.out" <<'PY'
import http.client, statistics, sys, time
out = sys.argv[1]
tiles = [line.split() for line in open(f"{out}/cold.txt")]
def measure(port, template):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    for z, x, y in tiles:
        started = time.perf_counter()
        connection.request("GET", template.format(z=z, x=x, y=y))
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"{port}: {response.status} for {z}/{x}/{y}")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]
t = measure(18192, "/wmts/cells/normal/PM/{z}/{y}/{x}.png")
m = measure(18193, "/wmts/cells/GLOBAL_WEBMERCATOR/{z}/{x}/{y}.png")
print(f"{t[0]:.1f} {t[1]:.1f} {m[0]:.1f} {m[1]:.1f}")
PY
read -r COLD_T50 COLD_T99 COLD_M50 COLD_M99 <"$T/cold.txt.out"
stop_servers

echo
echo "Tile cache of a vector layer (10 000 polygons over France, labels), $(date -u +%F)"
echo
echo "1. Seeding levels $LEVELS over the data ($TILES tiles), empty caches, 2 threads / processes"
printf '%-34s %8.1f s %10.0f tiles/s\n' "MapProxy 7 + MapServer FastCGI" "$SEED_M" "$(echo "$TILES / $SEED_M" | bc -l)"
printf '%-34s %8.1f s %10.0f tiles/s\n' "tuilerie seed" "$SEED_T" "$(echo "$TILES / $SEED_T" | bc -l)"
printf 'ratio %.2f× (goal ≥ 5×)\n' "$(echo "$SEED_M / $SEED_T" | bc -l)"
echo
echo "2. Cold first requests: $COLD random tiles of levels 11–14 (distinct metatiles), one at a time"
printf '%-34s p50 %7.1f ms   p99 %7.1f ms\n' "MapProxy 7 (gunicorn, 2 workers)" "$COLD_M50" "$COLD_M99"
printf '%-34s p50 %7.1f ms   p99 %7.1f ms\n' "tuilerie" "$COLD_T50" "$COLD_T99"
echo
echo "3. Cached tiles ($TILES, shuffled; $RENDERS metatiles rendered while exporting: 0 expected), median of $ROUNDS × $DURATION"
python3 "$BENCH_DIR/wrk_table.py" "$T" nginx "nginx (static files)" tuilerie "tuilerie (WMTS REST)" 0.9 "$ROUNDS" "$CONNECTIONS"
echo "tuilerie peak RSS $RSS KiB"
