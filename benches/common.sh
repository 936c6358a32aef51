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
