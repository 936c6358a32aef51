#!/usr/bin/env bash
# GetTile from a pyramid on S3 vs the same pyramid on files, both served by one Tuilerie (two
# layers), through WMTS RESTful tiles. The S3 server is s3s-fs (Rust, a folder behind the S3
# protocol: signatures, range requests) on loopback, started here with request logging at debug
# so that its GETs can be counted (a handicap for the S3 side, not for ours), and with
# TCP_NODELAY set on its connections as production S3 servers have it (nodelay.c: without it
# every other tile waits 40 ms for a delayed ACK).
#
# - cold index: the server just started, one request per slab (its first tile), 8 at once:
#   req/s, p50, p99 and S3 GETs per tile (≤ 2 expected: index, then tile);
# - warm index: the shuffled list of every tile with data, wrk (2 threads) at 8 and 64
#   connections, the two layers alternately, ROUNDS × DURATION each, medians compared; S3 GETs
#   per tile counted over the S3 rounds (1 expected). Goal: S3 ≥ 0.5× files.
# - CPU seconds used by Tuilerie and by s3s-fs during the S3 rounds: which of the two dominates.
# - the same objects through nginx serving the bucket's folder as static files (range GETs, no
#   signature check: an object endpoint that costs next to nothing), as a second S3 cluster of
#   the same server (`bench@127.0.0.1:NGINX_PORT`): what our own S3 client path costs alone.
#
# Tuilerie runs with the default configuration (log level info). Usage: benches/tiles_s3.sh
source "$(dirname "$0")/common.sh"
need gdalwarp wrk curl python3
if ! command -v s3s-fs >/dev/null 2>&1; then
  cargo install --locked s3s-fs --version 0.14.1 --features binary
fi
tuilerie_release
bench_input
DURATION=${DURATION:-10s}; CONNECTIONS=${CONNECTIONS:-8 64}; ROUNDS=${ROUNDS:-5}
S3_PORT=18090; TUILERIE_PORT=18091; NGINX_PORT=18092
KEY=bench-access; SECRET=bench-secret-key
# Two clusters (ROK4's comma-separated lists): s3s-fs first (the default), nginx second.
export ROK4_S3_URL="http://127.0.0.1:$S3_PORT,http://127.0.0.1:$NGINX_PORT" \
  ROK4_S3_KEY="$KEY,$KEY" ROK4_S3_SECRETKEY="$SECRET,$SECRET"
S3_ROOT="$OUT/s3_root"; S3_LOG="$OUT/s3s.log"
FILES="$OUT/s3bench_files"
mkdir -p "$S3_ROOT/bench"

# s3s-fs with TCP_NODELAY on its connections, as production S3 servers (see nodelay.c).
cc -shared -fPIC -O2 -o "$OUT/nodelay.so" "$BENCH_DIR/nodelay.c" -ldl
start_s3() {
  LD_PRELOAD="$OUT/nodelay.so" RUST_LOG=s3s::service=debug NO_COLOR=1 s3s-fs --host 127.0.0.1 --port $S3_PORT \
    --access-key $KEY --secret-key $SECRET "$S3_ROOT" >>"$S3_LOG" 2>&1 &
  S3_PID=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$S3_PORT) 2>/dev/null && break; sleep 0.1; done
}
start_tuilerie() {
  "$TUILERIE" serve --config "$OUT/tiles_s3.toml" --data "$OUT/data_s3" \
    --listen 127.0.0.1:$TUILERIE_PORT >/dev/null 2>"$OUT/serve_s3.log" &
  SERVER=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$TUILERIE_PORT/health >/dev/null && break; sleep 0.1; done
}
trap 'kill ${SERVER:-} ${S3_PID:-} ${STATIC_PID:-} 2>/dev/null || true' EXIT
start_s3
start_static_nginx "$OUT/nginx_objects" "$S3_ROOT" "$NGINX_PORT" "application/octet-stream bin"

BUILD=(--input "$BIG" --tms PM --bottom 15 --top 9 --format TIFF_JPG_UINT8)
[ -f "$FILES/pyramid.json" ] || "$TUILERIE" pyramid build "${BUILD[@]}" --out "$FILES" 2>/dev/null
[ -f "$S3_ROOT/bench/big/pyramid.json" ] \
  || "$TUILERIE" pyramid build "${BUILD[@]}" --out s3://bench/big 2>/dev/null

cat >"$OUT/tiles_s3.toml" <<TOML
[[layers]]
name = "files"
kind = "pyramid"
pyramid = "$FILES/pyramid.json"
[[layers]]
name = "s3"
kind = "pyramid"
pyramid = "s3://bench/big/pyramid.json"
[[layers]]
name = "s3nginx"
kind = "pyramid"
pyramid = "s3://bench@127.0.0.1:$NGINX_PORT/big/pyramid.json"
TOML

# Every tile with data, shuffled; and one tile per slab (16 × 16 tiles) for the cold pass.
python3 - "$FILES/pyramid.json" "$OUT" <<'PY'
import json, os, random, sys
desc = json.load(open(sys.argv[1])); out = sys.argv[2]
tiles, slabs = [], {}
for level in desc["levels"]:
    l = level["tile_limits"]
    per_w, per_h = level["tiles_per_width"], level["tiles_per_height"]
    for row in range(l["min_row"], l["max_row"] + 1):
        for col in range(l["min_col"], l["max_col"] + 1):
            tiles.append(f"{level['id']}/{row}/{col}.jpeg")
            slabs.setdefault((level["id"], col // per_w, row // per_h), tiles[-1])
random.seed(42); random.shuffle(tiles)
for layer in ("files", "s3", "s3nginx"):
    with open(os.path.join(out, f"urls_s3bench_{layer}.txt"), "w") as f:
        f.write("".join(f"/wmts/{layer}/normal/PM_9_15/{t}\n" for t in tiles))
with open(os.path.join(out, "cold_tiles.txt"), "w") as f:
    f.write("".join(f"{t}\n" for t in slabs.values()))
print(f"{len(tiles)} tiles, {len(slabs)} slabs", file=sys.stderr)
PY

s3_gets() { grep -c "req: Request { method: GET" "$S3_LOG" || true; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Cold: a fresh server, the first tile of each slab, 8 clients.
cold_pass() {
  local layer="$1"
  kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true
  start_tuilerie
  local before; before=$(s3_gets)
  python3 - "http://127.0.0.1:$TUILERIE_PORT/wmts/$layer/normal/PM_9_15" "$OUT/cold_tiles.txt" \
    "$OUT/cold_$layer.txt" <<'PY'
import statistics, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, listing, result = sys.argv[1:4]
paths = [l.strip() for l in open(listing) if l.strip()]
def fetch(p):
    t = time.perf_counter()
    with urllib.request.urlopen(f"{base}/{p}") as r:
        r.read(); assert r.status == 200
    return (time.perf_counter() - t) * 1000
start = time.perf_counter()
with ThreadPoolExecutor(8) as pool:
    times = sorted(pool.map(fetch, paths))
elapsed = time.perf_counter() - start
p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
open(result, "w").write(f"{len(paths)} {len(paths) / elapsed:.0f} {statistics.median(times):.2f} {p99:.2f}\n")
PY
  echo "$(cat "$OUT/cold_$layer.txt") $(( $(s3_gets) - before ))" >"$OUT/cold_$layer.result"
}
start_tuilerie
cold_pass files  # not in a subshell: it restarts the server, whose PID is used below
cold_pass s3
COLD_FILES=$(cat "$OUT/cold_files.result"); COLD_S3=$(cat "$OUT/cold_s3.result")

# Warm: every slab index loaded once, then wrk.
for layer in files s3 s3nginx; do
  xargs -P 8 -I{} curl -sf -o /dev/null "http://127.0.0.1:$TUILERIE_PORT/wmts/$layer/normal/PM_9_15/{}" <"$OUT/cold_tiles.txt"
done
GETS_BEFORE=$(s3_gets); CPU_T0=$(cpu_ticks "$SERVER"); CPU_S0=$(cpu_ticks "$S3_PID")
S3_REQUESTS=0; S3_CPU_T=0; S3_CPU_S=0
write_urls_lua "$OUT/urls.lua"
for conns in $CONNECTIONS; do
  for round in $(seq "$ROUNDS"); do
    for layer in $( [ $((round % 2)) = 1 ] && echo "files s3" || echo "s3 files"); do
      t0=$(cpu_ticks "$SERVER"); s0=$(cpu_ticks "$S3_PID"); g0=$(s3_gets)
      wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$OUT/urls.lua" \
        "http://127.0.0.1:$TUILERIE_PORT" -- "$OUT/urls_s3bench_$layer.txt" >"$OUT/wrk_${layer}_${conns}_$round.txt"
      if [ "$layer" = s3 ]; then
        n=$(awk '/requests in/ {print $1}' "$OUT/wrk_s3_${conns}_$round.txt")
        S3_REQUESTS=$((S3_REQUESTS + n))
        S3_CPU_T=$((S3_CPU_T + $(cpu_ticks "$SERVER") - t0))
        S3_CPU_S=$((S3_CPU_S + $(cpu_ticks "$S3_PID") - s0))
        S3_GETS=$(( ${S3_GETS:-0} + $(s3_gets) - g0 ))
      fi
    done
  done
done

# The same rounds against the nginx object endpoint, alternating with files again.
for conns in $CONNECTIONS; do
  for round in $(seq "$ROUNDS"); do
    for layer in $( [ $((round % 2)) = 1 ] && echo "files s3nginx" || echo "s3nginx files"); do
      name=$([ "$layer" = files ] && echo files2 || echo "$layer")
      wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$OUT/urls.lua" \
        "http://127.0.0.1:$TUILERIE_PORT" -- "$OUT/urls_s3bench_$layer.txt" >"$OUT/wrk_${name}_${conns}_$round.txt"
    done
  done
done

echo
echo "Cold index: a fresh server, the first tile of each slab, 8 clients"
printf '%-10s %8s %8s %8s %8s %14s\n' layer tiles req/s "p50 ms" "p99 ms" "S3 GETs/tile"
for pair in "files:$COLD_FILES" "s3:$COLD_S3"; do
  read -r n rps p50 p99 gets <<<"${pair#*:}"
  printf '%-10s %8s %8s %8s %8s %14s\n' "${pair%%:*}" "$n" "$rps" "$p50" "$p99" \
    "$(python3 -c "print(f'{$gets / $n:.2f}')")"
done
echo
echo "Warm index: GetTile, median of $ROUNDS × $DURATION (alternating), log level info"
python3 "$BENCH_DIR/wrk_table.py" "$OUT" files "files" s3 "s3 (s3s-fs on loopback)" 0.5 "$ROUNDS" "$CONNECTIONS"
echo
echo "Warm index, the objects through nginx (static files, no signature check): our S3 path alone"
python3 "$BENCH_DIR/wrk_table.py" "$OUT" files2 "files" s3nginx "s3 (nginx objects)" 0.5 "$ROUNDS" "$CONNECTIONS"
HZ=$(getconf CLK_TCK)
python3 - <<PY
requests, gets = $S3_REQUESTS, ${S3_GETS:-0}
ours, theirs = $S3_CPU_T / $HZ, $S3_CPU_S / $HZ
print(f"\nS3 rounds: {requests} tiles, {gets} S3 GETs ({gets / max(requests, 1):.3f} per tile)")
print(f"CPU during the S3 rounds: tuilerie {ours:.1f} s, s3s-fs {theirs:.1f} s "
      f"({ours * 1e6 / max(requests, 1):.0f} µs vs {theirs * 1e6 / max(requests, 1):.0f} µs per tile)")
PY
