#!/usr/bin/env bash
# fn's statement coverage under fuzzing: the fuzz targets run over their
# seeds alone, then over their seeds and the corpus `make fuzz` grew in Go's
# fuzz cache (entries that reached new code). Go reports no coverage while
# it fuzzes, so the grown corpus is replayed here, as seeds, from a copy of
# fn/testdata/fuzz that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
targets='^(FuzzResourceName|FuzzComposeSpec|FuzzObservedState|FuzzUserData)$'
cache="$(go env GOCACHE)/fuzz/$(go list ./fn)"
out="${OUT:-_output}/fuzzcover"
mkdir -p "$out"

cover() { go test ./fn/ -count=1 -run "$targets" -coverprofile="$out/$1.out" >/dev/null && go tool cover -func="$out/$1.out" | tail -1 | awk '{print $NF}'; }

seeds=$(cover seeds)
entries=0
added=()
trap 'rm -f "${added[@]}"' EXIT
for dir in "$cache"/Fuzz*; do
  [ -d "$dir" ] || continue
  target=$(basename "$dir")
  mkdir -p "fn/testdata/fuzz/$target"
  for f in "$dir"/*; do
    dst="fn/testdata/fuzz/$target/cache-$(basename "$f")"
    cp "$f" "$dst"
    added+=("$dst")
    entries=$((entries + 1))
  done
done
grown=$(cover grown)
unit=$(go test ./fn/ -count=1 -coverprofile="$out/unit.out" >/dev/null && go tool cover -func="$out/unit.out" | tail -1 | awk '{print $NF}')
echo "fn statement coverage: fuzz seeds alone $seeds; seeds and $entries cached corpus entries $grown; all of fn's tests $unit"
