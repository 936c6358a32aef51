#!/usr/bin/env bash
# WFS: Tuilerie against MapServer's WFS (cgi-mapserver as FastCGI, two processes spawned by
# spawn-fcgi, behind nginx, as in the WMS bench) on the million parcels of vector_1m.sh:
#  1. the full GeoJSON export (GetFeature of every parcel, one request): features/s and the
#     server's peak RSS during it;
#  2. pages of about 1 000 parcels by BBOX (GeoJSON, random windows of 1.6 km) at 8
#     connections, ROUNDS × DURATION alternating: req/s and p99.
# Both servers answer GeoJSON (MapServer through its OGR output driver, as its docs set it
# up). Tuilerie runs with its default configuration but `wfs.count_default` raised to cover
# the export (MapServer has no cap by default). Usage: benches/wfs_vs_mapserver.sh
source "$(dirname "$0")/common.sh"
need ogr2ogr wrk nginx curl python3 spawn-fcgi
need_mapserver
tuilerie_release
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
W="$OUT/wfs"
mkdir -p "$W"
make_parcels "$OUT/vector"
PARCELS="$OUT/vector/parcels.gpkg"

cat >"$W/parcels.sld" <<'SLD'
<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld"><NamedLayer><Name>parcelles</Name><UserStyle><FeatureTypeStyle><Rule><PolygonSymbolizer><Fill><CssParameter name="fill">#C8B496</CssParameter></Fill></PolygonSymbolizer></Rule></FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>
SLD
cat >"$W/tuilerie.toml" <<TOML
[wfs]
count_default = 2000000

[[layers]]
name = "parcelles"
kind = "vector"
source = "$PARCELS"
table = "parcelles"
style = "$W/parcels.sld"
wfs = true
TOML
cat >"$W/mapserver.conf" <<CONF
CONFIG
  ENV
    MS_MAP_PATTERN "^$W/"
  END
END
CONF
cat >"$W/bench.map" <<EOMAP
MAP
  NAME "bench"
  EXTENT 640000 6850000 690000 6900000
  UNITS METERS
  PROJECTION "init=epsg:2154" END
  OUTPUTFORMAT
    NAME "geojson"
    DRIVER "OGR/GEOJSON"
    MIMETYPE "application/json; subtype=geojson"
    FORMATOPTION "STORAGE=stream"
    FORMATOPTION "FORM=SIMPLE"
  END
  WEB
    METADATA
      "wfs_title" "bench"
      "wfs_enable_request" "*"
      "wfs_srs" "EPSG:2154"
      "wfs_getfeature_formatlist" "geojson"
      "wfs_onlineresource" "http://127.0.0.1:18093/mapserv?map=$W/bench.map&"
    END
  END
  LAYER
    NAME "parcelles"
    TYPE POLYGON
    STATUS ON
    CONNECTIONTYPE OGR
    CONNECTION "$PARCELS"
    DATA "parcelles"
    PROJECTION "init=epsg:2154" END
    METADATA
      "wfs_title" "parcelles"
      "gml_include_items" "all"
      "gml_featureid" "fid"
      "wfs_getfeature_formatlist" "geojson"
    END
  END
END
EOMAP

# Pages: 2 000 random windows of 1 600 m (about 1 000 parcels each).
python3 - "$W" <<'PY'
import random, sys
out = sys.argv[1]
random.seed(5)
tuilerie, mapserver = [], []
for _ in range(2000):
    x = random.uniform(640_000, 690_000 - 1600)
    y = random.uniform(6_850_000, 6_900_000 - 1600)
    bbox = f"{x:.1f},{y:.1f},{x + 1600:.1f},{y + 1600:.1f}"
    tuilerie.append(f"/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcelles&OUTPUTFORMAT=application/json&BBOX={bbox},EPSG:2154\n")
    mapserver.append(f"/mapserv?map={out}/bench.map&SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcelles&OUTPUTFORMAT=geojson&BBOX={bbox},urn:ogc:def:crs:EPSG::2154\n")
open(f"{out}/urls_tuilerie.txt", "w").write("".join(tuilerie))
open(f"{out}/urls_mapserver.txt", "w").write("".join(mapserver))
PY

# Servers.
echo "starting tuilerie (the first start integrates the parcels)…" >&2
"$TUILERIE" serve --config "$W/tuilerie.toml" --data "$W/data" --listen 127.0.0.1:18094 >"$W/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; if [ -n "${NGINX_PID:-}" ]; then kill $NGINX_PID 2>/dev/null || true; fi; pkill -f /usr/lib/cgi-bin/mapserv 2>/dev/null || true' EXIT
for _ in $(seq 3000); do curl -sf http://127.0.0.1:18094/health >/dev/null && break; sleep 0.2; done
rm -f "$W/mapserv.sock"
MAPSERVER_CONFIG_FILE="$W/mapserver.conf" spawn-fcgi -s "$W/mapserv.sock" -M 0666 -F 2 -P "$W/mapserv.pid" -- /usr/lib/cgi-bin/mapserv >/dev/null
cat >"$W/nginx.conf" <<NGINX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx_error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  fastcgi_buffering off;
  server {
    listen 127.0.0.1:18093;
    location /mapserv {
      fastcgi_pass unix:$W/mapserv.sock;
      fastcgi_read_timeout 600s;
      fastcgi_param QUERY_STRING \$query_string;
      fastcgi_param REQUEST_METHOD \$request_method;
      fastcgi_param CONTENT_TYPE \$content_type;
      fastcgi_param CONTENT_LENGTH \$content_length;
      fastcgi_param SCRIPT_NAME \$fastcgi_script_name;
      fastcgi_param SERVER_NAME \$server_name;
      fastcgi_param SERVER_PORT \$server_port;
      fastcgi_param SERVER_PROTOCOL \$server_protocol;
      fastcgi_param MAPSERVER_CONFIG_FILE $W/mapserver.conf;
    }
  }
}
NGINX
nginx -c "$W/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
sleep 0.5

# Both answer the same page before anything is timed.
count() { python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['features']))" "$1"; }
first=$(sed -n 1p "$W/urls_tuilerie.txt")
curl -sf -o "$W/check_tuilerie.json" "http://127.0.0.1:18094$first" || { echo "tuilerie failed: $(curl -s "http://127.0.0.1:18094$first" | head -c 400)"; exit 1; }
first=$(sed -n 1p "$W/urls_mapserver.txt")
curl -sf -o "$W/check_mapserver.json" "http://127.0.0.1:18093$first" || { echo "mapserver failed: $(curl -s "http://127.0.0.1:18093$first" | head -c 400)"; exit 1; }
echo "first page: tuilerie $(count "$W/check_tuilerie.json") features, mapserver $(count "$W/check_mapserver.json") features" >&2

# 1. The full export, alternating, RSS after each server's export.
export_t="http://127.0.0.1:18094/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcelles&OUTPUTFORMAT=application/json"
export_m="http://127.0.0.1:18093/mapserv?map=$W/bench.map&SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcelles&OUTPUTFORMAT=geojson"
: >"$W/export.txt"
for round in 1 2; do
  for name in tuilerie mapserver; do
    url=$export_t; [ $name = mapserver ] && url=$export_m
    t=$(curl -s -o "$W/export_$name.json" -w "%{time_total} %{size_download}" "$url")
    echo "$name $t $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['features']))" "$W/export_$name.json")" >>"$W/export.txt"
  done
done
rm -f "$W"/export_*.json
RSS_EXPORT_T=$(peak_rss_kib $SERVER)
RSS_EXPORT_M=0
for pid in $(pgrep -f /usr/lib/cgi-bin/mapserv); do RSS_EXPORT_M=$((RSS_EXPORT_M + $(peak_rss_kib "$pid"))); done

# 2. Pages.
write_urls_lua "$W/urls.lua"
run() { wrk -t2 -c8 -d"$DURATION" --timeout 30s --latency -s "$W/urls.lua" "$1" -- "$2"; }
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    run http://127.0.0.1:18093 "$W/urls_mapserver.txt" >"$W/wrk_mapserver_$round.txt"
    run http://127.0.0.1:18094 "$W/urls_tuilerie.txt" >"$W/wrk_tuilerie_$round.txt"
  else
    run http://127.0.0.1:18094 "$W/urls_tuilerie.txt" >"$W/wrk_tuilerie_$round.txt"
    run http://127.0.0.1:18093 "$W/urls_mapserver.txt" >"$W/wrk_mapserver_$round.txt"
  fi
done

python3 - "$W" "$DURATION" "$ROUNDS" "$RSS_EXPORT_T" "$RSS_EXPORT_M" <<'PY'
import re, statistics, sys
out, duration, rounds, rss_t, rss_m = sys.argv[1:6]
rounds = int(rounds)
print("\nfull GeoJSON export of 1 000 000 parcels (one GetFeature), 2 rounds")
best = {}
for line in open(f"{out}/export.txt"):
    name, seconds, size, features = line.split()
    seconds, features = float(seconds), int(features)
    print(f"  {name:10} {seconds:7.2f} s  {features / seconds:10.0f} features/s  {int(size) / 1e6:8.1f} MB  {features} features")
    best[name] = max(best.get(name, 0), features / seconds)
print(f"  ratio (best rounds): {best['tuilerie'] / best['mapserver']:.2f}× features/s")
print(f"  peak RSS: tuilerie {rss_t} KiB, mapserver (2 processes) {rss_m} KiB")
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s)", text, re.M)
    p99 = float(m.group(1)) * unit[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, p99, int(errors.group(1)) if errors else 0
print(f"\nBBOX pages of ~1 000 parcels (GeoJSON), 8 connections, median of {rounds} × {duration} (alternating)")
rows = {}
for name in ("mapserver", "tuilerie"):
    runs = [parse(f"{out}/wrk_{name}_{r}.txt") for r in range(1, rounds + 1)]
    rows[name] = [statistics.median(v) for v in zip(*runs)]
    rps, p99, errors = rows[name]
    print(f"  {name:10} {rps:8.1f} req/s  p99 {p99:8.1f} ms  errors {errors:.0f}   rounds {[round(r[0], 1) for r in runs]}")
print(f"  ratio: {rows['tuilerie'][0] / rows['mapserver'][0]:.2f}× req/s, p99 {rows['tuilerie'][1] / rows['mapserver'][1]:.2f}×")
PY
