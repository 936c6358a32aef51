#!/usr/bin/env bash
# Vector tiles: Tuilerie against Martin (maplibre/martin, the reference on-the-fly MVT server)
# on the million parcels of vector_1m.sh, then Tuilerie's stored vector pyramid against nginx.
#  1. On the fly: Martin reads the parcels from PostGIS (a temporary cluster started here,
#     loaded with ogr2ogr, GiST index, Lambert-93 as Tuilerie's GeoPackage), Tuilerie reads
#     the GeoPackage. Both in their default configuration. The requests are every tile over
#     the data from zoom 0 to MAX_ZOOM (shuffled, seeded), each asked once per run — wrk's
#     threads stop when their share of the list is done — and both servers are restarted
#     before each run: no response cache ever answers, every tile is made. 8 and 64
#     connections, ROUNDS runs each, alternating which server goes first.
#  2. Stored: `tuilerie pyramid build --format TIFF_PBF_MVT` of the parcels, levels 0–16
#     (build time reported), served through TMS, against nginx serving the same .pbf files.
# Usage: benches/mvt_vs_martin.sh   (MAX_ZOOM=16 ROUNDS=3 DURATION=10s CONNECTIONS="8 64")
source "$(dirname "$0")/common.sh"
need ogr2ogr wrk nginx curl python3
PG_BIN=/usr/lib/postgresql/15/bin
if [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
fi
# Martin, built once (the newest release this toolchain builds) and kept under benches/out,
# with its PostgreSQL sources only: the default `rendering` feature clones maplibre-native
# from GitHub while it builds.
MARTIN="$OUT/martin/bin/martin"
if [ ! -x "$MARTIN" ]; then
  cargo install martin@1.14.0 --locked --no-default-features --features postgres --root "$OUT/martin" >&2
fi
tuilerie_release
MAX_ZOOM=${MAX_ZOOM:-16}; ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10s}; CONNECTIONS=${CONNECTIONS:-8 64}
V="$OUT/mvt"
mkdir -p "$V"
make_parcels "$OUT/vector"
PARCELS="$OUT/vector/parcels.gpkg"

# --- PostgreSQL + PostGIS in a temporary cluster (as the postgres user when run as root) ---
PGPORT=15433
PGDIR="$V/pg"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$PGDIR/PG_VERSION" ]; then
  mkdir -p "$PGDIR"; [ "$(id -u)" = 0 ] && chown postgres "$PGDIR" "$V"
  as_pg "$PG_BIN/initdb" -D "$PGDIR" -U postgres -A trust >/dev/null
fi
as_pg "$PG_BIN/pg_ctl" -D "$PGDIR" -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c shared_buffers=256MB" -l "$V/pg.log" -w start >/dev/null
cleanup() {
  for pid in ${TUILERIE_PID:-} ${MARTIN_PID:-} ${NGINX_PID:-}; do kill "$pid" 2>/dev/null || true; done
  as_pg "$PG_BIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
DB="postgresql://postgres@127.0.0.1:$PGPORT/bench"
if ! psql -h 127.0.0.1 -p $PGPORT -U postgres -d bench -tAc "select 1 from parcelles limit 1" >/dev/null 2>&1; then
  psql -q -h 127.0.0.1 -p $PGPORT -U postgres -c "create database bench" >/dev/null
  psql -q -h 127.0.0.1 -p $PGPORT -U postgres -d bench -c "create extension postgis" >/dev/null
  echo "loading the parcels into PostGIS…" >&2
  ogr2ogr -f PostgreSQL "PG:host=127.0.0.1 port=$PGPORT user=postgres dbname=bench" "$PARCELS" parcelles \
    -nln parcelles -lco GEOMETRY_NAME=geom -lco FID=fid -nlt PROMOTE_TO_MULTI
  psql -q -h 127.0.0.1 -p $PGPORT -U postgres -d bench -c "vacuum analyze parcelles" >/dev/null
fi

cat >"$V/parcels.sld" <<'SLD'
<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld"><NamedLayer><Name>parcelles</Name><UserStyle><FeatureTypeStyle><Rule><PolygonSymbolizer><Fill><CssParameter name="fill">#C8B496</CssParameter></Fill></PolygonSymbolizer></Rule></FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>
SLD
cat >"$V/tuilerie.toml" <<TOML
[vector_tiles]
max_zoom = $MAX_ZOOM

[[layers]]
name = "parcelles"
kind = "vector"
source = "$PARCELS"
table = "parcelles"
style = "$V/parcels.sld"
TOML

start_tuilerie() {
  "$TUILERIE" serve --config "$V/tuilerie.toml" --data "$V/data" --listen 127.0.0.1:18083 >/dev/null 2>"$V/serve.log" &
  TUILERIE_PID=$!
  # The first start integrates the GeoPackage into the data directory (a minute or so).
  for _ in $(seq 3000); do curl -sf http://127.0.0.1:18083/health >/dev/null && break; sleep 0.2; done
  # Warm-up outside the list (zoom 18): the layer's index is loaded, nothing of the list cached.
  curl -sf -o /dev/null "http://127.0.0.1:18083/tms/1.0.0/parcelles/18/132800/90200.pbf" || true
}
start_martin() {
  "$MARTIN" --listen-addresses 127.0.0.1:18084 "$DB" >/dev/null 2>"$V/martin.log" &
  MARTIN_PID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18084/health >/dev/null && break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:18084/parcelles/18/132800/90200" || true
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Every tile over the parcels, zoom 0 to MAX_ZOOM, shuffled with a fixed seed.
python3 - "$V" "$MAX_ZOOM" <<'PY'
import math, random, sys
out, max_zoom = sys.argv[1], int(sys.argv[2])
# The parcels' extent (Lambert-93 640 000–690 000, 6 850 000–6 900 000) in longitude/latitude.
west, south, east, north = 2.1525, 48.7186, 2.8469, 49.1736
def col(lon, n): return int((lon + 180) / 360 * n)
def row(lat, n):
    r = math.radians(lat)
    return int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
tiles = []
for z in range(max_zoom + 1):
    n = 2 ** z
    for x in range(col(west, n), col(east, n) + 1):
        for y in range(row(north, n), row(south, n) + 1):
            tiles.append((z, x, y))
random.seed(7); random.shuffle(tiles)
open(f"{out}/urls_tuilerie.txt", "w").write("".join(f"/tms/1.0.0/parcelles/{z}/{x}/{y}.pbf\n" for z, x, y in tiles))
open(f"{out}/urls_martin.txt", "w").write("".join(f"/parcelles/{z}/{x}/{y}\n" for z, x, y in tiles))
print(f"{len(tiles)} tiles, zoom 0 to {max_zoom}", file=sys.stderr)
PY

# wrk: each thread walks its share of the list once, then stops.
cat >"$V/once.lua" <<'LUA'
local urls = {}
local threads = {}
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
init = function(args)
  for line in io.lines(args[1]) do urls[#urls + 1] = line end
  local n = tonumber(args[2])
  first = math.floor((id - 1) * #urls / n) + 1
  last = math.floor(id * #urls / n)
  i = first - 1
end
request = function()
  i = i + 1
  if i > last then i = last end
  return wrk.format("GET", urls[i])
end
response = function(status, headers, body)
  if i >= last then wrk.thread:stop() end
end
LUA

# wrk runs for a fixed time: a run lasts 70 % of the time the list would take at the rate a
# one-second probe on a fresh server measured, so that it never runs out of new tiles.
run_once() { # conns, base URL, url list, output
  local n rate seconds
  n=$(wc -l <"$3")
  wrk -t2 -c"$1" -d1s -s "$V/once.lua" "$2" -- "$3" 2 >"$4.probe"
  rate=$(awk '/Requests\/sec/ {print $2}' "$4.probe")
  seconds=$(python3 -c "print(max(1, int(0.7 * $n / max($rate, 1))))")
  echo "$seconds" >"$4.seconds"
  restart_current
  wrk -t2 -c"$1" -d"${seconds}s" --latency -s "$V/once.lua" "$2" -- "$3" 2 >"$4"
}
for conns in $CONNECTIONS; do
  for round in $(seq "$ROUNDS"); do
    for who in $( [ $((round % 2)) = 1 ] && echo "martin tuilerie" || echo "tuilerie martin" ); do
      if [ "$who" = martin ]; then
        restart_current() { stop $MARTIN_PID; start_martin; }
        start_martin; run_once "$conns" http://127.0.0.1:18084 "$V/urls_martin.txt" "$V/wrk_martin_${conns}_$round.txt"; stop $MARTIN_PID
      else
        restart_current() { stop $TUILERIE_PID; start_tuilerie; }
        start_tuilerie; run_once "$conns" http://127.0.0.1:18083 "$V/urls_tuilerie.txt" "$V/wrk_tuilerie_${conns}_$round.txt"
        TUILERIE_RSS=$(peak_rss_kib $TUILERIE_PID); stop $TUILERIE_PID
      fi
    done
  done
done
# The same answers? Compare feature counts of a few tiles (both clip to the tile + buffer).
start_tuilerie; start_martin
python3 - "$V" <<'PY' || true
import sys, urllib.request, random
out = sys.argv[1]
lines = open(f"{out}/urls_tuilerie.txt").read().split()
random.seed(3)
same = sizes = 0
for path in random.sample(lines, 20):
    z, x, y = path.rsplit("/", 3)[1:]
    y = y.split(".")[0]
    a = urllib.request.urlopen(f"http://127.0.0.1:18083{path}").read()
    b = urllib.request.urlopen(f"http://127.0.0.1:18084/parcelles/{z}/{x}/{y}").read()
    sizes += 1; same += (len(a) > 0) == (len(b) > 0)
print(f"{same}/{sizes} sampled tiles empty or not in both", file=sys.stderr)
PY
stop $TUILERIE_PID; stop $MARTIN_PID

# --- The stored vector pyramid, levels 0–16, against nginx with the same .pbf files ---
PYR="$V/pyramid"
if [ ! -f "$PYR/pyramid.json" ]; then
  started=$(date +%s.%N)
  "$TUILERIE" pyramid build --config "$V/tuilerie.toml" --layer parcelles --tms PM --top 0 --bottom 16 \
    --format TIFF_PBF_MVT --out "$PYR" 2>"$V/build.log"
  echo "$(echo "$(date +%s.%N) - $started" | bc)" >"$V/build_seconds.txt"
fi
cat >"$V/stored.toml" <<TOML
[[layers]]
name = "stored"
kind = "pyramid"
pyramid = "$PYR/pyramid.json"
TOML
"$TUILERIE" serve --config "$V/stored.toml" --data "$V/data_stored" --listen 127.0.0.1:18085 >/dev/null 2>"$V/serve_stored.log" &
TUILERIE_PID=$!
for _ in $(seq 3000); do curl -sf http://127.0.0.1:18085/health >/dev/null && break; sleep 0.2; done
python3 - "$V" <<'PY'
import os, sys, urllib.request
out = sys.argv[1]
kept = []
for path in open(f"{out}/urls_tuilerie.txt").read().split():
    z, x, y = path.rsplit("/", 3)[1:]
    target = f"{out}/nginx_root/{z}/{x}/{y}"
    if not os.path.exists(target):
        response = urllib.request.urlopen(f"http://127.0.0.1:18085/tms/1.0.0/stored/{z}/{x}/{y}")
        if response.status != 200:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "wb").write(response.read())
    kept.append(f"{z}/{x}/{y}")
open(f"{out}/urls_nginx_pbf.txt", "w").write("".join(f"/{p}\n" for p in kept))
open(f"{out}/urls_stored.txt", "w").write("".join(f"/tms/1.0.0/stored/{p}\n" for p in kept))
print(f"{len(kept)} stored tiles with data", file=sys.stderr)
PY
start_static_nginx "$V/nginx" "$V/nginx_root" 18086 "application/vnd.mapbox-vector-tile pbf"
NGINX_PID=$STATIC_PID
write_urls_lua "$V/cycle.lua"
for conns in $CONNECTIONS; do
  for round in $(seq "$ROUNDS"); do
    wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$V/cycle.lua" http://127.0.0.1:18086 -- "$V/urls_nginx_pbf.txt" >"$V/wrk_nginx_${conns}_$round.txt"
    wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$V/cycle.lua" http://127.0.0.1:18085 -- "$V/urls_stored.txt" >"$V/wrk_stored_${conns}_$round.txt"
  done
done

python3 - "$V" "$ROUNDS" "$CONNECTIONS" "${TUILERIE_RSS:-?}" <<'PY'
import re, statistics, sys
out, rounds, conns_list, rss = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    lat = {}
    for p in ("50%", "99%"):
        m = re.search(r"^\s+" + re.escape(p) + r"\s+([0-9.]+)(us|ms|s)", text, re.M)
        lat[p] = float(m.group(1)) * unit[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, lat["50%"], lat["99%"], int(errors.group(1)) if errors else 0
def table(pairs, title, goal):
    print(f"\n{title}")
    for conns in conns_list:
        res = {}
        for name, label in pairs:
            runs = [parse(f"{out}/wrk_{name}_{conns}_{r}.txt") for r in range(1, rounds + 1)]
            res[name] = [statistics.median(v) for v in zip(*runs)] + [[round(r[0]) for r in runs]]
        print(f"\n{conns} connections")
        print(f"{'':24} {'tiles/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}   runs (tiles/s)")
        for name, label in pairs:
            rps, p50, p99, errors, runs = res[name]
            print(f"{label:24} {rps:10.0f} {p50:8.2f} {p99:8.2f} {errors:8.0f}   {runs}")
        (a, _), (b, _) = pairs
        print(f"ratio tiles/s {res[b][0] / res[a][0]:.2f}× ({goal}), p99 {res[b][2] / res[a][2]:.2f}×")
table([("martin", "martin (PostGIS)"), ("tuilerie", "tuilerie (GeoPackage)")],
      f"On the fly, every tile once, median of {rounds} runs", "goal ≥ 2× at 8 connections")
table([("nginx", "nginx (.pbf files)"), ("stored", "tuilerie (vector pyramid)")],
      f"Stored vector tiles, median of {rounds} runs", "goal ≥ 0.9×")
print(f"\ntuilerie peak RSS on the fly {rss} KiB")
try:
    print(f"vector pyramid of the million parcels, levels 0–16: built in {float(open(out + '/build_seconds.txt').read()):.0f} s")
except OSError:
    pass
PY
