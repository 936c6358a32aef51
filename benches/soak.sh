#!/usr/bin/env bash
# Soak: DURATION (default 10 minutes) at CONNECTIONS (64) of mixed traffic — WMS GetMap over
# many boxes (so the image cache answers only some), GetFeatureInfo, WMTS/TMS tiles of a
# pyramid and of a vector layer's tile cache, vector tiles, WFS, OGC API items, maps and
# tiles, capabilities, /health (20 000 GetMap boxes: more than the image cache holds) — while `tuilerie publish` publishes a new layer every
# PUBLISH_EVERY seconds on the same data directory. Tuilerie runs as a user runs it (default
# configuration, log level info). Prints requests, errors (non-2xx/3xx, socket errors), and the
# server's RSS and open file descriptors at the start, the end and their peak.
# Usage: benches/soak.sh   (DURATION=60 for a short run)
source "$(dirname "$0")/common.sh"
need wrk curl python3
tuilerie_release
DURATION=${DURATION:-600}; CONNECTIONS=${CONNECTIONS:-64}; PUBLISH_EVERY=${PUBLISH_EVERY:-30}
SOAK="$OUT/soak"
rm -rf "$SOAK" && mkdir -p "$SOAK"
FIX="$ROOT/fixtures"
"$TUILERIE" pyramid build --input "$FIX/rasters/rgb_4326.tif" --tms PM --bottom 13 --top 8 \
  --format TIFF_JPG_UINT8 --out "$SOAK/ortho" 2>/dev/null
cat > "$SOAK/soak.toml" <<TOML
[data]
dir = "$SOAK/data"

[[layers]]
name = "communes"
kind = "vector"
source = "$FIX/gpkg/communes_2154.gpkg"
table = "Communes-IDF"
style = "$FIX/wms/communes.sld"
wfs = true

[[layers]]
name = "ortho"
kind = "pyramid"
pyramid = "$SOAK/ortho/pyramid.json"
getfeatureinfo = true
TOML
"$TUILERIE" serve --config "$SOAK/soak.toml" --listen 127.0.0.1:18085 >/dev/null 2>"$SOAK/serve.log" &
SERVER=$!
trap 'kill $SERVER $PUBLISHER 2>/dev/null || true' EXIT
PUBLISHER=""
for _ in $(seq 100); do curl -sf http://127.0.0.1:18085/health >/dev/null && break; sleep 0.1; done

# The request list: shuffled, long enough that the caches answer only part of it.
python3 - "$SOAK/urls.txt" <<'PY'
import random, sys
random.seed(7)
urls = []
for k in range(20000):
    x = 640000 + random.randrange(0, 30000); y = 6850000 + random.randrange(0, 30000); s = random.choice([500, 2000, 8000])
    urls.append(f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=communes&STYLES=&CRS=EPSG:2154&BBOX={x},{y},{x+s},{y+s}&WIDTH=256&HEIGHT=256&FORMAT=image/png")
for k in range(500):
    urls.append(f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=communes&QUERY_LAYERS=communes&STYLES=&CRS=EPSG:2154&BBOX=640000,6850000,670000,6880000&WIDTH=256&HEIGHT=256&I={random.randrange(256)}&J={random.randrange(256)}&INFO_FORMAT=application/json")
for z in range(8, 14):
    n = 2 ** z
    for _ in range(300):
        col = int(n * (2.3 + 180) / 360) + random.randrange(-2, 3)
        row = int(n * 0.3476) + random.randrange(-2, 3)
        urls.append(f"/wmts/ortho/normal/PM/{z}/{row}/{col}.jpeg")
        urls.append(f"/tms/1.0.0/communes/{z}/{col}/{row}.png")
        urls.append(f"/tms/1.0.0/communes/{z}/{col}/{row}.pbf")
        urls.append(f"/ogcapi/collections/communes/map/tiles/WebMercatorQuad/{z}/{row}/{col}")
for k in range(300):
    urls.append(f"/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=communes&COUNT=20&STARTINDEX={random.randrange(40)}&OUTPUTFORMAT=application/json")
    urls.append(f"/ogcapi/collections/communes/items?limit=10&offset={random.randrange(50)}")
    x = 2.2 + random.random() * 0.2; y = 48.75 + random.random() * 0.1
    urls.append(f"/ogcapi/collections/communes/map?bbox={x:.4f},{y:.4f},{x+0.05:.4f},{y+0.05:.4f}&width=256&height=256")
for k in range(50):
    urls += ["/wms?SERVICE=WMS&REQUEST=GetCapabilities", "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", "/ogcapi/collections", "/health"]
random.shuffle(urls)
open(sys.argv[1], "w").write("\n".join(urls) + "\n")
PY
write_urls_lua "$SOAK/urls.lua"

sample() { # rss_kib fds
  echo "$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status) $(ls /proc/$SERVER/fd | wc -l)"
}
read -r RSS0 FD0 < <(sample)
# Publications meanwhile, on the same data directory, as a producer runs them.
(
  n=0
  while sleep "$PUBLISH_EVERY"; do
    n=$((n + 1))
    if "$TUILERIE" publish vector "$FIX/gpkg/communes_2154.gpkg" --style "$FIX/wms/communes.sld" \
        --tables communes_idf --layer-name "published$n" --data "$SOAK/data" >>"$SOAK/publish.log" 2>&1; then
      echo ok >>"$SOAK/published"
    else
      echo failed >>"$SOAK/published"
    fi
  done
) &
PUBLISHER=$!
# Samples every 5 s while wrk runs.
(
  while kill -0 $SERVER 2>/dev/null; do sample >>"$SOAK/samples"; sleep 5; done
) &
SAMPLER=$!
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$SOAK/urls.lua" \
  http://127.0.0.1:18085 -- "$SOAK/urls.txt" >"$SOAK/wrk.txt"
kill $PUBLISHER $SAMPLER 2>/dev/null || true
sleep 1
read -r RSS1 FD1 < <(sample)
PEAK_RSS=$(awk '{print $1}' "$SOAK/samples" | sort -n | tail -1)
PEAK_FD=$(awk '{print $2}' "$SOAK/samples" | sort -n | tail -1)
HEALTH=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18085/health)
REQUESTS=$(awk '/requests in/ {print $1}' "$SOAK/wrk.txt")
RATE=$(awk '/Requests\/sec/ {print $2}' "$SOAK/wrk.txt")
NON2XX=$(awk '/Non-2xx/ {print $NF}' "$SOAK/wrk.txt"); NON2XX=${NON2XX:-0}
SOCKET=$(awk '/Socket errors/ {print $0}' "$SOAK/wrk.txt"); SOCKET=${SOCKET:-none}
P99=$(awk '$1 == "99%" {print $2}' "$SOAK/wrk.txt")
PUBLISHED=$(grep -c ok "$SOAK/published" 2>/dev/null || true)
FAILED=$(grep -c failed "$SOAK/published" 2>/dev/null || true)
ERRORS_LOGGED=$(grep -c ' ERROR ' "$SOAK/serve.log" || true)
cat <<REPORT
soak: ${DURATION} s at ${CONNECTIONS} connections, mixed WMS/WMTS/TMS/WFS/OGC API traffic
requests      $REQUESTS ($RATE req/s, p99 $P99)
errors        non-2xx/3xx: $NON2XX; sockets: $SOCKET; ERROR lines in the log: $ERRORS_LOGGED
publications  $PUBLISHED published, $FAILED failed (one every ${PUBLISH_EVERY} s)
RSS (KiB)     start $RSS0, end $RSS1, peak $PEAK_RSS
open fds      start $FD0, end $FD1, peak $PEAK_FD
/health       $HEALTH after the run
REPORT
