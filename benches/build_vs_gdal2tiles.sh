#!/usr/bin/env bash
# Pyramid build throughput: `tuilerie pyramid build` vs `gdal2tiles.py --processes=2`, same input,
# same levels (PM / Web Mercator 9–15), PNG tiles on both sides, 2 processes/threads each.
# Prints tiles written, seconds and tiles/s for each, and the ratio.
# Usage: benches/build_vs_gdal2tiles.sh
source "$(dirname "$0")/common.sh"
need gdalwarp gdal2tiles.py
tuilerie_release
bench_input
ZOOM_BOTTOM=15; ZOOM_TOP=9

rm -rf "$OUT/g2t" "$OUT/ours"
start=$(date +%s.%N)
gdal2tiles.py -q --processes=2 -z "$ZOOM_TOP-$ZOOM_BOTTOM" -w none -r bilinear --xyz "$BIG" "$OUT/g2t" >/dev/null
end=$(date +%s.%N)
g2t_seconds=$(echo "$end - $start" | bc -l)
g2t_tiles=$(find "$OUT/g2t" -name '*.png' | wc -l)

start=$(date +%s.%N)
RAYON_NUM_THREADS=2 "$TUILERIE" pyramid build --input "$BIG" --tms PM --bottom "$ZOOM_BOTTOM" --top "$ZOOM_TOP" \
  --format TIFF_PNG_UINT8 --interpolation bilinear --out "$OUT/ours" 2>"$OUT/ours.log"
end=$(date +%s.%N)
our_seconds=$(echo "$end - $start" | bc -l)
our_tiles=$(sed -n 's/.*: \([0-9]*\) tiles in.*/\1/p' "$OUT/ours.log")

printf '\n%-28s %10s %10s %12s\n' "pyramid build (PM ${ZOOM_TOP}-${ZOOM_BOTTOM}, PNG)" tiles seconds tiles/s
printf '%-28s %10d %10.2f %12.1f\n' "gdal2tiles --processes=2" "$g2t_tiles" "$g2t_seconds" "$(echo "$g2t_tiles / $g2t_seconds" | bc -l)"
printf '%-28s %10d %10.2f %12.1f\n' "tuilerie (2 threads)" "$our_tiles" "$our_seconds" "$(echo "$our_tiles / $our_seconds" | bc -l)"
printf 'ratio (ours / gdal2tiles, tiles/s): %.2f×\n' "$(echo "($our_tiles / $our_seconds) / ($g2t_tiles / $g2t_seconds)" | bc -l)"
