#!/usr/bin/env bash
# Throughput of 1, 2 and 3 Tuilerie replicas behind nginx (deploy/replicas.sh: a PostgreSQL
# catalog, one shared data directory, nginx round robin), against one replica reached directly.
#
# The layer is published once through the shared catalog (`tuilerie publish vector`, which
# every replica picks up by LISTEN/NOTIFY); the load is the WMS bench's mix: 1 000 seeded
# random GetMaps in EPSG:3857 of 10 000 polygons, image cache off (wms.cache_bytes = 0) so
# that every request is drawn, cycled by wrk at 8 and 32 connections.
#
# This machine has 2 cores: the replicas share them, so more replicas cannot draw more maps per
# second here — the figures show what the topology costs (the nginx hop, the replicas
# competing for the same cores), not how it scales. On N cores per replica, throughput grows
# with the replicas as long as the load balancer and PostgreSQL are not the bottleneck: maps
# are drawn from each replica's own snapshot and never touch the catalog.
# Usage: benches/replicas.sh
source "$(dirname "$0")/common.sh"
need ogr2ogr wrk nginx curl python3
tuilerie_release
DURATION=${DURATION:-10s}
W="$OUT/replicas"
mkdir -p "$W"
make_cells "$W"

cat >"$W/tuilerie.toml" <<TOML
[log]
level = "warn"
[wms]
cache_bytes = 0
# Layers published through the API have the Géoplateforme's per-client limit (50 req/s): off,
# the load comes from one client.
[rate_limits]
wms_vector = 0
TOML

python3 - "$W" <<'PY'
import math, random, sys
out = sys.argv[1]
random.seed(42)
xmin, ymin, xmax, ymax = -560_000.0, 5_130_000.0, 1_050_000.0, 6_660_000.0
with open(f"{out}/urls.txt", "w") as f:
    for _ in range(1000):
        w, h = random.choice([(256, 256), (1024, 768)])
        res = 10 ** random.uniform(math.log10(2.0), math.log10(1600.0))
        cx, cy = random.uniform(xmin, xmax), random.uniform(ymin, ymax)
        bbox = f"{cx - w * res / 2:.2f},{cy - h * res / 2:.2f},{cx + w * res / 2:.2f},{cy + h * res / 2:.2f}"
        f.write(f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cells&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH={w}&HEIGHT={h}&FORMAT=image/png\n")
PY
write_urls_lua "$W/urls.lua"

PORT=18180
run() { wrk -t2 -c"$1" -d"$DURATION" --timeout 30s --latency -s "$W/urls.lua" "$2" -- "$W/urls.txt"; }
for n in 1 2 3; do
  rm -f "$W/ready_$n"
  TUILERIE_REPLICAS_READY="$W/ready_$n" "$ROOT/deploy/replicas.sh" --replicas "$n" --port "$PORT" \
    --config "$W/tuilerie.toml" --binary "$TUILERIE" >"$W/replicas_$n.log" 2>&1 &
  TOPOLOGY=$!
  for _ in $(seq 600); do [ -s "$W/ready_$n" ] && break; sleep 0.1; done
  [ -s "$W/ready_$n" ] || { cat "$W/replicas_$n.log"; exit 1; }
  DATA=$(sed -n 's/^data: \([^ ]*\) .*/\1/p' "$W/replicas_$n.log")
  TUILERIE_CATALOG_URL=$(cat "$W/ready_$n") "$TUILERIE" publish vector "$W/cells.gpkg" \
    --style "$W/cells.sld" --layer-name cells --data "$DATA" >"$W/publish_$n.log" 2>&1
  first=$(sed -n 2p "$W/urls.txt")
  for k in $(seq 1 "$n") ""; do
    port=$((PORT + ${k:-0}))
    for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port$first" && break; sleep 0.1; done
    curl -sf -o /dev/null "http://127.0.0.1:$port$first" || { echo "port $port does not draw the layer"; exit 1; }
  done
  for c in 8 32; do
    run "$c" "http://127.0.0.1:$PORT" >"$W/wrk_nginx_${n}_$c.txt"
    [ "$n" = 1 ] && run "$c" "http://127.0.0.1:$((PORT + 1))" >"$W/wrk_direct_$c.txt"
  done
  kill "$TOPOLOGY"; wait "$TOPOLOGY" 2>/dev/null || true
done

python3 - "$W" "$DURATION" <<'PY'
import re, sys
out, duration = sys.argv[1:3]
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s)", text, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, float(m.group(1)) * unit[m.group(2)], int(errors.group(1)) if errors else 0
print(f"\nGetMap, 1 000 random EPSG:3857 maps of 10 000 polygons, {duration} per run, 2 cores shared by all")
print(f"{'topology':28} {'conns':>5} {'req/s':>8} {'p99 ms':>8} {'errors':>7}")
for c in (8, 32):
    rows = [("1 replica, direct", f"wrk_direct_{c}.txt")] + [
        (f"{n} replica{'s' if n > 1 else ''} behind nginx", f"wrk_nginx_{n}_{c}.txt") for n in (1, 2, 3)]
    for name, path in rows:
        rps, p99, errors = parse(f"{out}/{path}")
        print(f"{name:28} {c:5} {rps:8.1f} {p99:8.1f} {errors:7}")
        if errors:
            print(f"  !! {errors} answers were errors: the figure above is not a map throughput")
PY
