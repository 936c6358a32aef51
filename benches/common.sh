# Shared by the load benches: tools, the release binary, a bench input raster.
# Sourced, not run. Everything goes under benches/out/ (git-ignored).
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"

need() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local packages=()
  for tool in "${missing[@]}"; do
    case "$tool" in
      gdalwarp|gdal2tiles.py|gdalinfo) packages+=(gdal-bin python3-gdal) ;;
      nginx) packages+=(nginx-light) ;;
      *) packages+=("$tool") ;;
    esac
  done
  echo "installing ${packages[*]}…" >&2
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
}

tuilerie_release() {
  (cd "$ROOT" && cargo build --release --locked -q -p tuilerie)
  TUILERIE="$ROOT/target/release/tuilerie"
}

# An 8192×6144 RGB GeoTIFF upsampled from the committed fixture (about 3 m pixels around Paris).
bench_input() {
  BIG="$OUT/big_4326.tif"
  if [ ! -f "$BIG" ]; then
    gdalwarp -q -overwrite -ts 8192 6144 -r cubic -co TILED=YES -co COMPRESS=DEFLATE \
      "$ROOT/fixtures/rasters/rgb_4326.tif" "$BIG"
  fi
}

# Peak RSS (KiB) of a process tree's root, read from /proc while it runs.
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }

# A wrk Lua script that cycles through the request paths of the file given after `--`.
write_urls_lua() {
  cat >"$1" <<'LUA'
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
}

# A million parcels: 1 000 × 1 000 jittered 50 m squares in Lambert-93 with 5 attributes,
# made once with python3 + ogr2ogr into $1/parcels.gpkg (table `parcelles`).
make_parcels() {
  local dir="$1"
  mkdir -p "$dir"
  [ -f "$dir/parcels.gpkg" ] && return 0
  echo "making 1 000 000 parcels…" >&2
  python3 - "$dir/parcels.geojsonl" <<'PY'
import json, random, sys
random.seed(11)
x0, y0, step = 640_000.0, 6_850_000.0, 50.0
with open(sys.argv[1], "w") as out:
    for i in range(1000):
        for j in range(1000):
            x, y = x0 + i * step, y0 + j * step
            d = lambda: random.uniform(-6, 6)
            ring = [[x + d(), y + d()], [x + step + d(), y + d()], [x + step + d(), y + step + d()], [x + d(), y + step + d()]]
            ring.append(ring[0])
            props = {"Numéro": i * 1000 + j, "Section": f"{chr(65 + i % 26)}{j % 100:02d}",
                     "Surface m2": round(step * step + d(), 1), "Nature": random.choice(["bâti", "terre", "bois", "eau", "route"]),
                     "Commune": f"Commune {i // 100}-{j // 100}"}
            out.write(json.dumps({"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}) + "\n")
PY
  ogr2ogr -q -f GPKG -nln parcelles -a_srs EPSG:2154 "$dir/parcels.gpkg" "$dir/parcels.geojsonl"
  rm -f "$dir/parcels.geojsonl"
}

# 10 000 polygons over France (a jittered grid in Lambert-93, 5 categories, names) made once
# with ogr2ogr into $1/cells.gpkg, their SLD ($1/cells.sld) and the equivalent mapfile
# ($1/bench.map, with $1/mapserver.conf): the data of the WMS and tile-cache benches.
make_cells() {
local dir="$1"
mkdir -p "$dir"
if [ ! -f "$dir/cells.gpkg" ]; then
  python3 - "$dir/cells.geojson" <<'PY'
import json, random, sys
random.seed(7)
features = []
x0, y0, step = 150_000.0, 6_150_000.0, 10_000.0   # Lambert-93, 100 × 100 cells of ~10 km
for i in range(100):
    for j in range(100):
        x, y = x0 + i * step, y0 + j * step
        ring = []
        for k, (dx, dy) in enumerate([(0, 0), (1, 0), (1, 1), (0, 1)]):
            ring.append([x + dx * step + random.uniform(-1500, 1500), y + dy * step + random.uniform(-1500, 1500)])
        ring.append(ring[0])
        features.append({"type": "Feature", "properties": {"cat": random.randint(1, 5), "name": f"Cell {i}-{j}"},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
json.dump({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
           "features": features}, open(sys.argv[1], "w"))
PY
  ogr2ogr -q -f GPKG -nln cells -a_srs EPSG:2154 "$dir/cells.gpkg" "$dir/cells.geojson"
fi

COLORS=("#E41A1C" "#377EB8" "#4DAF4A" "#984EA3" "#FF7F00")
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc">'
  echo '<NamedLayer><Name>cells</Name><UserStyle><FeatureTypeStyle>'
  for c in 1 2 3 4 5; do
    echo "<Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>cat</ogc:PropertyName><ogc:Literal>$c</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"
    echo "<PolygonSymbolizer><Fill><CssParameter name=\"fill\">${COLORS[$((c-1))]}</CssParameter></Fill><Stroke><CssParameter name=\"stroke\">#333333</CssParameter><CssParameter name=\"stroke-width\">1</CssParameter></Stroke></PolygonSymbolizer></Rule>"
  done
  echo '<Rule><MaxScaleDenominator>500000</MaxScaleDenominator><TextSymbolizer><Label><ogc:PropertyName>name</ogc:PropertyName></Label>'
  echo '<Font><CssParameter name="font-family">DejaVu Sans</CssParameter><CssParameter name="font-size">10</CssParameter></Font>'
  echo '<Halo><Radius>1</Radius><Fill><CssParameter name="fill">#FFFFFF</CssParameter></Fill></Halo><Fill><CssParameter name="fill">#000000</CssParameter></Fill></TextSymbolizer></Rule>'
  echo '</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>'
} >"$dir/cells.sld"

FONT=$(fc-match -f '%{file}' "DejaVu Sans" 2>/dev/null || echo /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)
echo "dejavu $FONT" >"$dir/fonts.txt"
{
  cat <<EOMAP
MAP
  NAME "bench"
  EXTENT -20037508 -20037508 20037508 20037508
  UNITS METERS
  SIZE 256 256
  MAXSIZE 4096
  FONTSET "$dir/fonts.txt"
  IMAGECOLOR 255 255 255
  PROJECTION "init=epsg:3857" END
  OUTPUTFORMAT NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" IMAGEMODE RGBA EXTENSION "png" FORMATOPTION "COMPRESSION=1" END
  WEB
    METADATA
      "wms_title" "bench"
      "wms_enable_request" "*"
      "wms_srs" "EPSG:3857 EPSG:2154 EPSG:4326"
    END
  END
  LAYER
    NAME "cells"
    TYPE POLYGON
    STATUS ON
    CONNECTIONTYPE OGR
    CONNECTION "$dir/cells.gpkg"
    DATA "cells"
    PROJECTION "init=epsg:2154" END
    METADATA "wms_title" "cells" END
    CLASSITEM "cat"
    LABELITEM "name"
EOMAP
  for c in 1 2 3 4 5; do
    hex=${COLORS[$((c-1))]}
    cat <<EOMAP
    CLASS
      EXPRESSION "$c"
      STYLE COLOR "$hex" OUTLINECOLOR "#333333" WIDTH 1 END
      LABEL TYPE TRUETYPE FONT "dejavu" SIZE 7.5 COLOR 0 0 0 OUTLINECOLOR 255 255 255 OUTLINEWIDTH 1 MAXSCALEDENOM 500000 POSITION CC PARTIALS FALSE END
    END
EOMAP
  done
  cat <<EOMAP
  END
END
EOMAP
} >"$dir/bench.map"
cat >"$dir/mapserver.conf" <<CONF
CONFIG
  ENV
    MS_MAP_PATTERN "^$dir/"
  END
END
CONF
}

# MapServer in its production setup: Debian's cgi-mapserver as FastCGI (two processes spawned
# by spawn-fcgi) behind nginx on 127.0.0.1:$2, `/mapserv?map=…`. Sets NGINX_PID.
start_mapserver() {
local dir="$1" port="$2"
rm -f "$dir/mapserv.sock"
MAPSERVER_CONFIG_FILE="$dir/mapserver.conf" spawn-fcgi -s "$dir/mapserv.sock" -M 0666 -F 2 -P "$dir/mapserv.pid" -- /usr/lib/cgi-bin/mapserv >/dev/null
cat >"$dir/nginx.conf" <<NGINX
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/nginx_error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location /mapserv {
      fastcgi_pass unix:$dir/mapserv.sock;
      fastcgi_param QUERY_STRING \$query_string;
      fastcgi_param REQUEST_METHOD \$request_method;
      fastcgi_param CONTENT_TYPE \$content_type;
      fastcgi_param CONTENT_LENGTH \$content_length;
      fastcgi_param SCRIPT_NAME \$fastcgi_script_name;
      fastcgi_param SERVER_NAME \$server_name;
      fastcgi_param SERVER_PORT \$server_port;
      fastcgi_param SERVER_PROTOCOL \$server_protocol;
      fastcgi_param MAPSERVER_CONFIG_FILE $dir/mapserver.conf;
    }
  }
}
NGINX
nginx -c "$dir/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
sleep 0.5
}

# Debian's cgi-mapserver, installed when missing.
need_mapserver() {
  [ -x /usr/lib/cgi-bin/mapserv ] && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cgi-mapserver >/dev/null
}

# wrk against two servers in alternating rounds (this VM's speed drifts; the order alternates
# so that drift favours neither): `wrk_alternating DIR NAME_A URL_A LIST_A NAME_B URL_B LIST_B`
# writes DIR/wrk_{name}_{conns}_{round}.txt for each of $CONNECTIONS, $ROUNDS times $DURATION.
wrk_alternating() {
  local dir="$1" a="$2" url_a="$3" list_a="$4" b="$5" url_b="$6" list_b="$7"
  write_urls_lua "$dir/urls.lua"
  local conns round
  for conns in $CONNECTIONS; do
    for round in $(seq "$ROUNDS"); do
      if [ $((round % 2)) = 1 ]; then
        wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$dir/urls.lua" "$url_a" -- "$list_a" >"$dir/wrk_${a}_${conns}_$round.txt"
        wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$dir/urls.lua" "$url_b" -- "$list_b" >"$dir/wrk_${b}_${conns}_$round.txt"
      else
        wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$dir/urls.lua" "$url_b" -- "$list_b" >"$dir/wrk_${b}_${conns}_$round.txt"
        wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$dir/urls.lua" "$url_a" -- "$list_a" >"$dir/wrk_${a}_${conns}_$round.txt"
      fi
    done
  done
}

# nginx serving the files under $2 on 127.0.0.1:$3 (`$4` the types line, e.g. "image/png png"),
# as a static tile server is run: sendfile, no access log, keep-alive. Its files are $1.conf,
# $1.pid and $1_error.log. Sets STATIC_PID.
start_static_nginx() {
  local prefix="$1" root="$2" port="$3" types="$4"
  cat >"$prefix.conf" <<NGINX
worker_processes 2;
pid $prefix.pid;
error_log ${prefix}_error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  types { $types; }
  server { listen 127.0.0.1:$port; root $root; }
}
NGINX
  nginx -c "$prefix.conf" -g 'daemon off;' &
  STATIC_PID=$!
  sleep 0.5
}
