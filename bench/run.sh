#!/usr/bin/env bash
# Speed figures for the reference GAN training step (see nn's
# BenchmarkGANStep and bench/torch_gan_step.py), all measured in this run:
#   1. nn, default pure-Go build (CGO_ENABLED=0)
#   2. nn, -tags openblas (cgo; skipped if libopenblas is missing)
#   3. PyTorch on the CPU, 2 threads, with and without OPENBLAS_NUM_THREADS=1
#      (skipped if python3-torch is missing)
#   4. the wire codec benchmarks (skipped if wire has none yet)
# then a table: implementation, steps/s, ratio to PyTorch, and CPU time
# per step over all threads (spin-waiting included), which says more than
# steps/s when the machine is busy with other work.
#
# Each steps/s figure is the median of COUNT runs of BENCHTIME (Go) or
# TORCH_SECONDS (PyTorch). Run from anywhere; it works in the repository.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
PYTHON=${PYTHON:-/usr/bin/python3}
COUNT=${COUNT:-3}
BENCHTIME=${BENCHTIME:-5s}
TORCH_SECONDS=${TORCH_SECONDS:-5}
TORCH_THREADS=${TORCH_THREADS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) exit 1; print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# go_bench NAME ENV... : runs BenchmarkGANStep, prints its output, and
# records "NAME<TAB>median steps/s" in $tmp/results.
go_bench() {
	local name=$1
	shift
	echo "== nn BenchmarkGANStep: $name"
	if ! env "$@" "$GO" test -run '^$' -bench '^BenchmarkGANStep$' -benchtime "$BENCHTIME" \
		-count "$COUNT" ./nn/ >"$tmp/out" 2>&1; then
		cat "$tmp/out"
		echo "   FAILED"
		return 0
	fi
	grep -E '^(Benchmark|cpu:)' "$tmp/out"
	local sps
	sps=$(awk '/^BenchmarkGANStep/ {for (i=2; i<=NF; i++) if ($i=="steps/s") print $(i-1)}' "$tmp/out" | median) || return 0
	local cpu backend
	cpu=$(awk '/^BenchmarkGANStep/ {for (i=2; i<=NF; i++) if ($i=="cpu-ms/step") print $(i-1)}' "$tmp/out" | median) || cpu=-
	backend=$(awk -F'[/ \t-]+' '/^BenchmarkGANStep/ {print $2; exit}' "$tmp/out")
	printf '%s (%s)\t%s\t%s\n' "$name" "$backend" "$sps" "$cpu" >>"$tmp/results"
}

: >"$tmp/results"
go_bench "nn pure Go" CGO_ENABLED=0

have_openblas() {
	# No pipes here: under pipefail, grep -q closing early fails ldconfig.
	local libs
	libs=$(ldconfig -p 2>/dev/null || true)
	case $libs in
	*libopenblas.so*) return 0 ;;
	esac
	local f
	for f in /usr/lib/*/libopenblas.so /usr/lib/libopenblas.so /usr/local/lib/libopenblas.so; do
		[ -e "$f" ] && return 0
	done
	return 1
}
if have_openblas; then
	go_bench "nn OpenBLAS" CGO_ENABLED=1 GOFLAGS="${GOFLAGS:-} -tags=openblas"
else
	echo "== nn OpenBLAS: skipped (libopenblas not found; on Debian: apt install libopenblas-dev)"
fi

# torch_bench LABEL ENV... : runs the PyTorch step COUNT times and records
# the median.
torch_bench() {
	local label=$1
	shift
	echo "== PyTorch, $TORCH_THREADS threads, $label"
	: >"$tmp/torch"
	for _ in $(seq "$COUNT"); do
		env "$@" "$PYTHON" bench/torch_gan_step.py --threads "$TORCH_THREADS" --seconds "$TORCH_SECONDS" | tee -a "$tmp/torch"
	done
	local sps cpu
	sps=$(sed -n 's/.*steps_per_sec=\([0-9.]*\).*/\1/p' "$tmp/torch" | median) || return 0
	cpu=$(sed -n 's/.*cpu_ms_per_step=\([0-9.]*\).*/\1/p' "$tmp/torch" | median) || cpu=-
	printf 'PyTorch %s (%s)\t%s\t%s\n' "$torch_version" "$label" "$sps" "$cpu" >>"$tmp/results"
}

if [ -x "$PYTHON" ] && "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
	torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')
	# Debian's torch calls the system BLAS (OpenBLAS) from its own OpenMP
	# threads; letting OpenBLAS start threads of its own as well
	# oversubscribes two cores, so it is also measured with
	# OPENBLAS_NUM_THREADS=1. The faster of the two is the reference.
	torch_bench "default env"
	torch_bench "OPENBLAS_NUM_THREADS=1" OPENBLAS_NUM_THREADS=1
else
	echo "== PyTorch: skipped ($PYTHON cannot import torch; on Debian: apt install python3-torch)"
fi

# No pipe into grep -q: under pipefail its early exit fails the listing.
wire_benches=$("$GO" test -list 'Benchmark.*' ./wire/ 2>/dev/null || true)
if [[ $wire_benches == *Benchmark* ]]; then
	echo "== wire codec"
	"$GO" test -run '^$' -bench . -benchmem ./wire/ | grep -E '^(Benchmark|ok|FAIL)'
else
	echo "== wire codec: skipped (no benchmarks in ./wire/ yet)"
fi

# The cost of MQTT: the same sync iteration (5 devices, batch 64, 784-d,
# the reference MLPs) in-process and through the real brokers, interleaved.
echo "== MQTT cost (edge BenchmarkMQTTCost)"
"$GO" test -run '^$' -bench '^BenchmarkMQTTCost$' -benchtime "${MQTT_ITERS:-40}x" ./edge/ | grep -E '^(Benchmark|ok|FAIL)' | tee "$tmp/mqtt" || true

echo
echo "GAN step (G 100-256-512-784, D 784-512-256-1, batch 64, Adam), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; ratios are to the faster PyTorch row):"
torch=$(awk -F'\t' '/^PyTorch/ {if ($2 > best) best = $2} END {if (best) print best}' "$tmp/results")
printf '%-44s %10s %12s %13s\n' implementation steps/s "vs PyTorch" "CPU ms/step"
while IFS=$'\t' read -r name sps cpu; do
	if [ -n "$torch" ]; then
		ratio=$(awk -v a="$sps" -v b="$torch" 'BEGIN {printf "%.2fx", a/b}')
	else
		ratio=-
	fi
	printf '%-44s %10.1f %12s %13s\n' "$name" "$sps" "$ratio" "$cpu"
done <"$tmp/results"
if [ -s "$tmp/mqtt" ]; then
	echo
	awk '/^BenchmarkMQTTCost/ {for (i=2; i<=NF; i++) m[$(i+1)]=$i}
		END {printf "MQTT cost: %.1f iterations/s in-process, %.1f over the brokers: ratio %.2f; %d bytes on the wire per iteration per device vs %d raw tensor bytes (overhead %.3f%%)\n",
			m["inprocess-iter/s"], m["mqtt-iter/s"], m["mqtt/inprocess"], m["wire-B/iter/device"], m["raw-B/iter/device"], m["overhead-%"]}' "$tmp/mqtt"
fi
