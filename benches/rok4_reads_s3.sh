#!/usr/bin/env bash
# ROK4's own Python library (`rok4` on PyPI) reads the S3 pyramid Tuilerie wrote: descriptor,
# list and tiles, compared byte for byte with the same pyramid on files. Run after
# benches/tiles_s3.sh (which builds both). Installs rok4 in a venv under benches/out (with the
# system's GDAL bindings visible), never in the system's Python. Usage: benches/rok4_reads_s3.sh
source "$(dirname "$0")/common.sh"
[ -f "$OUT/s3_root/bench/big/pyramid.json" ] || { echo "run benches/tiles_s3.sh first" >&2; exit 1; }
VENV="$OUT/rok4-venv"
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install --quiet rok4
fi
PORT=18095
s3s-fs --host 127.0.0.1 --port $PORT --access-key bench-access --secret-key bench-secret-key \
  "$OUT/s3_root" >/dev/null 2>&1 &
S3_PID=$!
trap 'kill $S3_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
ROK4_TMS_DIRECTORY="$ROOT/config/tilematrixsets" ROK4_S3_URL="http://127.0.0.1:$PORT" \
ROK4_S3_KEY=bench-access ROK4_S3_SECRETKEY=bench-secret-key \
"$VENV/bin/python" - "$OUT" <<'PY'
import json, sys
from rok4.pyramid import Pyramid
out = sys.argv[1]
s3 = Pyramid.from_descriptor("s3://bench/big/pyramid.json")
files = Pyramid.from_descriptor(f"file://{out}/s3bench_files/pyramid.json")
print(f"rok4 opened {s3.name}: {s3.storage_type}, {s3.format}, levels {s3.top_level.id}..{s3.bottom_level.id}, "
      f"{sum(1 for _ in s3.list_generator())} slabs listed")
same = total = 0
for level in json.load(open(f"{out}/s3bench_files/pyramid.json"))["levels"]:
    lim = level["tile_limits"]
    for row in range(lim["min_row"], lim["max_row"] + 1, 3):
        for col in range(lim["min_col"], lim["max_col"] + 1, 3):
            a = s3.get_tile_data_binary(level["id"], col, row)
            b = files.get_tile_data_binary(level["id"], col, row)
            total += 1
            same += a is not None and a == b
print(f"{same}/{total} sampled tiles byte-identical between s3:// and file://")
sys.exit(0 if same == total else 1)
PY
