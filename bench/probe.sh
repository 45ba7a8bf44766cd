#!/usr/bin/env bash
# Issue 4's benchmark: probe throughput over a corpus of every supported format (made by ffmpeg),
# `mediadrive probe` against running `ffprobe` once per file, in one run. Needs ffmpeg and hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/mediadrive
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
F=(ffmpeg -v error -y)
"${F[@]}" -f lavfi -i testsrc=size=1280x720:rate=25:duration=10 -f lavfi -i sine=sample_rate=48000:duration=10 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$DIR/v.mp4"
"${F[@]}" -i "$DIR/v.mp4" -c copy "$DIR/v.mov"
"${F[@]}" -f lavfi -i testsrc=size=640x360:rate=30:duration=10 -f lavfi -i sine=sample_rate=48000:duration=10 -c:v libvpx-vp9 -b:v 300k -deadline realtime -c:a libopus -shortest "$DIR/v.webm"
for ext in mp3 wav flac aac opus ogg; do
    "${F[@]}" -f lavfi -i sine=sample_rate=44100:duration=30 "$DIR/a.$ext"
done
for ext in png jpg gif bmp tiff webp; do
    "${F[@]}" -f lavfi -i testsrc=size=1920x1080:duration=0.04 -frames:v 1 "$DIR/i.$ext"
done
N=$(ls "$DIR" | wc -l)
echo "corpus: $N files, $(du -sh "$DIR" | cut -f1)"
hyperfine -N --warmup 2 --runs 10 --export-json "$DIR/result.json" \
    -n mediadrive "$BIN probe $(echo "$DIR"/*)" \
    -n ffprobe "bash -c 'for f in $DIR/*; do ffprobe -v error -print_format json -show_format -show_streams \$f > /dev/null; done'" \
    > /dev/null
python3 - "$DIR/result.json" "$N" <<'PY'
import json, sys
results = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
for name, secs in results.items():
    print(f"{name}: {secs * 1000:.1f} ms for {n} files, {n / secs:.0f} files/s")
print(f"mediadrive is {results['ffprobe'] / results['mediadrive']:.1f}x faster")
PY
