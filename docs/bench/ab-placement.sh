#!/bin/bash
# Runs the placement benchmark of two jars at the same time, so that both see the same machine speed
# (the 2-core development VM drifts by +-20 % within an hour, which hides a 5-10 % change between runs
# taken one after the other). Each instance gets about one core, so the absolute placements/s are about
# half of a solo run; compare A with B. Besides placements/s, it prints each instance's CPU time per
# placement, JVM and PostgreSQL apart, over 50 s inside its measured window. Swap A and B in a second
# run: the instance whose measured window ends last has the machine to itself for a few seconds.
#
# usage: docs/bench/ab-placement.sh LABEL JAR_A JAR_B [extra arguments for both]
set -euo pipefail
label=$1; a=$2; b=$3; shift 3
tick=$(getconf CLK_TCK)

cpu_of() { # utime + stime of the given pids, in clock ticks
  local s=0 f
  for p in "$@"; do
    f=($(awk '{print $14, $15}' /proc/$p/stat 2>/dev/null || echo "0 0"))
    s=$((s + f[0] + f[1]))
  done
  echo $s
}

sample() { # $1 the timeout process, $2 the data directory -> "jvm-ticks postgresql-ticks"
  local jvm pm
  jvm=$(pgrep -P "$1" java | head -1)
  # the postmaster is the process with the data directory in its arguments whose parent is not postgres
  pm=$(for p in $(pgrep -f -- "$2/postgres"); do
         [ "$(ps -o comm= -p "$(ps -o ppid= -p "$p" | tr -d ' ')")" != postgres ] && echo "$p"; done | head -1)
  echo "$(cpu_of "$jvm") $(cpu_of "$pm" $(pgrep -P "$pm"))"
}

run() { # $1 A or B, $2 the jar
  local d=/tmp/ab-$label-$1 pid s1 s2 t1 t2
  rm -rf "$d"; mkdir -p "$d"
  timeout 900 java -jar "$2" --spring.profiles.active=placement-benchmark --benchmark.hosts=10000 \
      --benchmark.seconds=60 --gpucloud.data-dir="$d/data" $EXTRA > "$d/out.log" 2>&1 &
  pid=$!
  while ! grep -q 'warm-up:' "$d/out.log" 2>/dev/null; do sleep 0.5; kill -0 $pid 2>/dev/null || return 0; done
  sleep 22; s1=$(sample $pid "$d/data"); t1=$(date +%s.%N)   # the 20 s warm-up is over
  sleep 50; s2=$(sample $pid "$d/data"); t2=$(date +%s.%N)
  wait $pid || true
  echo "$s1 $s2 $t1 $t2" > "$d/cpu"
}
export -f run sample cpu_of
export label EXTRA="$*"
bash -c "run A $a & run B $b & wait"

for x in A B; do
  d=/tmp/ab-$label-$x
  rate=$(grep -o '([0-9]* placements/s)' "$d/out.log" | grep -o '[0-9]*')
  read -r j1 p1 j2 p2 t1 t2 < "$d/cpu"
  per() { echo "scale=3; ($2 - $1) * 1000 / $tick / ($rate * ($t2 - $t1))" | bc; }
  echo "$label $x: $rate placements/s, $(grep -o 'p99 [0-9.]* ms' "$d/out.log"); CPU per placement:" \
       "JVM $(per "$j1" "$j2") ms, PostgreSQL $(per "$p1" "$p2") ms"
done
