#!/bin/sh
# The measurements behind docs/scale-agents.png and docs/scale-communities.png
# (docs/RESULTS.md §11), then the pictures:
#
#   bench/scale-sweep.sh [OUT]        # default OUT=results/scale
#
# 1. `fedgan loadtest` (Gaussian model) for every connected N in 10 … 1,000
#    and asked K in {10, 50, every one} with K ≤ N, REPEAT times (default
#    3): OUT/agents/N-K-R.json (K = 0 is the paper's broadcast: every
#    connected device asked); the picture shows the median of the repeats.
# 2. `fedgan sim` on bench/scale-topology.py's topologies, C communities of
#    D devices (3 rounds × 5 iterations, every device asked), wall time and
#    peak RSS from /usr/bin/time: OUT/sim/C-D.json, up to SIM_MAX devices.
# 3. The cloud's merge per round against communities (fed's CloudRound
#    benchmark, three times; the picture shows the median): OUT/cloudround.txt.
# 4. go run ./bench/scaleplot -in OUT -out docs
#
# FEDGAN (default bin/fedgan, built first), ITERS (sampled runs' iterations,
# default 300; broadcast runs a third of them), SIM_MAX (default 30000) and
# SKIP (a list of steps, e.g. "agents sim cloud") change it. A measurement
# whose file is already there is not made again: a sweep that was stopped
# goes on where it was.
set -eu
OUT=${1:-results/scale}
FEDGAN=${FEDGAN:-bin/fedgan}
ITERS=${ITERS:-300}
SIM_MAX=${SIM_MAX:-30000}
SKIP=${SKIP:-}
REPEAT=${REPEAT:-3}
cd "$(dirname "$0")/.."
[ "$FEDGAN" != bin/fedgan ] || go build -o bin/fedgan ./cmd/fedgan
mkdir -p "$OUT/agents" "$OUT/sim"

skip() { case " $SKIP " in *" $1 "*) return 0 ;; esac; return 1; }

if ! skip agents; then
	for r in $(seq "$REPEAT"); do
		for n in 10 50 100 200 500 1000; do
			for k in 10 50 0; do
				f="$OUT/agents/$n-$k-$r.json"
				[ "$k" -le "$n" ] && [ ! -s "$f" ] || continue
				procs=4
				[ "$n" -ge 100 ] || procs=1
				it=$ITERS
				[ "$k" -ne 0 ] || it=$((ITERS / 3))
				echo "loadtest $r: $n connected, $k asked (0: all), $it iterations" >&2
				"$FEDGAN" loadtest --agents "$n" --sample "$k" --iterations "$it" --procs "$procs" >"$f.tmp"
				mv "$f.tmp" "$f"
			done
		done
	done
fi

if ! skip sim; then
	for d in 10 100; do
		for c in 10 30 100 300 1000; do
			[ $((c * d)) -le "$SIM_MAX" ] && [ ! -s "$OUT/sim/$c-$d.json" ] || continue
			echo "sim: $c communities × $d devices" >&2
			python3 bench/scale-topology.py "$c" "$d" --output "$OUT/sim/run" >"$OUT/sim/topology.yaml"
			/usr/bin/time -f '%e %M' -o "$OUT/sim/time" "$FEDGAN" sim -c "$OUT/sim/topology.yaml" -o "$OUT/sim/run" >/dev/null
			read -r wall rss <"$OUT/sim/time"
			printf '{"communities": %d, "devices_per_community": %d, "rounds": 3, "wall_seconds": %s, "peak_rss_kib": %s}\n' \
				"$c" "$d" "$wall" "$rss" >"$OUT/sim/$c-$d.json"
		done
	done
	rm -rf "$OUT/sim/run" "$OUT/sim/topology.yaml" "$OUT/sim/time"
fi

if ! skip cloud; then
	echo "the cloud's merge (go test -bench CloudRound ./fed/)" >&2
	[ -s "$OUT/cloudround.txt" ] || go test -run '^$' -bench CloudRound -benchtime 3x -count 3 ./fed/ >"$OUT/cloudround.txt"
fi

go run ./bench/scaleplot -in "$OUT" -out docs
