#!/usr/bin/env bash
# A million features: integration (`tuilerie ingest`: checks + normalised copy + R-tree +
# metadata) against GDAL's `ogr2ogr -f GPKG` copy of the same file (copy + R-tree, no checks),
# then bbox queries per second on the stored result (criterion bench `vector_query`).
#
# Data: 1 000 × 1 000 parcels of 50 m (a jittered grid in Lambert-93, 5 attributes), made once
# with python3 + ogr2ogr into benches/out/vector/parcels.gpkg. Usage: benches/vector_1m.sh
source "$(dirname "$0")/common.sh"
need ogr2ogr python3
tuilerie_release
V="$OUT/vector"
mkdir -p "$V"
make_parcels "$V"
rm -rf "$V/data" "$V/ogr_copy.gpkg"
start=$(date +%s.%N)
"$TUILERIE" ingest --data "$V/data" --id parcels "$V/parcels.gpkg" >"$V/ingest.txt"
mid=$(date +%s.%N)
ogr2ogr -q -f GPKG "$V/ogr_copy.gpkg" "$V/parcels.gpkg"
end=$(date +%s.%N)
python3 - "$start" "$mid" "$end" <<'PY'
import sys
s, m, e = map(float, sys.argv[1:4])
print("\nintegration of 1 000 000 parcels (GeoPackage → stored GeoPackage with R-tree)")
print(f"{'tuilerie ingest (checks + copy + index)':44} {m - s:7.1f} s  {1e6 / (m - s):9.0f} features/s")
print(f"{'ogr2ogr -f GPKG (copy + index, no checks)':44} {e - m:7.1f} s  {1e6 / (e - m):9.0f} features/s")
print(f"ratio (ogr2ogr time / ours): {(e - m) / (m - s):.2f}×")
PY
echo
echo "bbox queries per second on the stored parcels (criterion):"
TUILERIE_BENCH_STORE="$V/data/stored/parcels" cargo bench -q -p tuilerie-benches --bench vector_query -- --noplot 2>/dev/null \
  | grep -E "^vector_query|time:|thrpt:"
