#!/usr/bin/env bash
# Serving benchmark: the node and nginx over the same tree, in one run, both
# with access logs on, same certificate, same load generator (wrk). The
# servers run on the first half of the CPUs, wrk on the other half, so
# neither steals the other's processor; each figure is the median of
# ROUNDS alternating runs. Prints each figure and the ratio node/nginx.
# BEFORE=path/to/an/older/micromirror adds that binary as a third server
# in the same rounds, for before-and-after figures from one run; it runs
# as "user: nobody" like the node (BEFORE_USER= for a binary older than
# the user: key).
# Loopback only; bounded in time. ONLY=serving runs this part alone.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./micromirror}
DUR=${DUR:-5s}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-5}
out=bench-results; mkdir -p "$out"
work=$(mktemp -d /tmp/mm-bench.XXXXXX)
chmod 755 "$work"  # nginx workers run as www-data
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

n=$(nproc)
if [ "$n" -ge 2 ]; then
  SRV="0-$((n / 2 - 1))"; LOAD="$((n / 2))-$((n - 1))"
else
  SRV=0; LOAD=0
fi
load() { taskset -c "$LOAD" "$@"; }

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

mkdir -p "$work/data/bench" "$work/state" "$work/nginx"
head -c 1024 /dev/urandom > "$work/data/bench/1k.bin"
head -c 65536 /dev/urandom > "$work/data/bench/64k.bin"
head -c 1073741824 /dev/urandom > "$work/data/bench/1g.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.mm.example.net \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem" # a throwaway key the node reads as nobody (started as root, it drops to it)

NH=$(port); NS=$(port); XH=$(port); XS=$(port); NA=$(port); BH=$(port); BS=$(port); BA=$(port)
# nodeconf NAME HTTP HTTPS ADMIN [LIMITS [USER]]: a serving-only node
# config (run as root, the node becomes USER once its ports are bound).
nodeconf() {
  local limits=${5:-"rate_limit: {per_second: 0}, max_connections: 100000, keepalive_requests: 100000"}
  local user=${6-"user: nobody"}
  mkdir -p "$work/$1-state"
  cat > "$work/$1.yaml" <<YAML
name: bench.mm.example.net
sponsor: {name: Bench}
contact: noc@mm.example.net
data_dir: $work/data
state_dir: $work/$1-state
$user
access_log: $work/$1-access.log
listen: {http: ["127.0.0.1:$2"], https: ["127.0.0.1:$3"], rsync: [], admin: ["127.0.0.1:$4"]}
tls: {cert_file: $work/cert.pem, key_file: $work/key.pem}
limits: {$limits}
projects:
  - {name: gimp, path: bench}       # no upstream: serving only, nothing leaves the machine
YAML
}
nodeconf node "$NH" "$NS" "$NA"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
worker_rlimit_nofile 20000;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 10000; }
http {
  include /etc/nginx/mime.types;
  log_format timed '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time';
  access_log $work/nginx-access.log timed;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$XH; listen 127.0.0.1:$XS ssl http2;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    root $work/data; autoindex on;
  }
}
NGINX

# taskset execs the server: $! is the server's own PID.
taskset -c "$SRV" "$BIN" node -config "$work/node.yaml" -log-level warn & pids+=($!)
NODE_PID=$!
taskset -c "$SRV" nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' & pids+=($!)
NGINX_PID=$!
BEFORE_PID=
if [ -n "${BEFORE:-}" ]; then
  # An older node may not know keepalive_requests (and had no such cap).
  nodeconf before "$BH" "$BS" "$BA" "rate_limit: {per_second: 0}, max_connections: 100000" "${BEFORE_USER-user: nobody}"
  taskset -c "$SRV" "$BEFORE" node -config "$work/before.yaml" -log-level warn & pids+=($!)
  BEFORE_PID=$!
  for i in $(seq 50); do curl -fsk -o /dev/null "http://127.0.0.1:$BH/bench/1k.bin" && break; sleep 0.1; done
  curl -fsk -o /dev/null "http://127.0.0.1:$BH/bench/1k.bin" || { echo "bench: the BEFORE node did not start" >&2; exit 1; }
fi
for i in $(seq 50); do
  curl -fsk -o /dev/null "http://127.0.0.1:$NH/bench/1k.bin" && curl -fsk -o /dev/null "http://127.0.0.1:$XH/bench/1k.bin" && break
  sleep 0.1
done
curl -fsk -o /dev/null "https://127.0.0.1:$NS/bench/1k.bin" || { echo "bench: node did not start" >&2; exit 1; }
curl -fsk -o /dev/null "https://127.0.0.1:$XS/bench/1k.bin" || { echo "bench: nginx did not start" >&2; exit 1; }

# family PID: the process and its descendants (nginx's workers).
family() { local c; echo "$1"; for c in $(pgrep -P "$1" || true); do family "$c"; done; }
# ticks PID: user+system clock ticks of the family.
ticks() {
  local total=0 p
  for p in $(family "$1"); do total=$((total + $(awk '{print $14+$15}' "/proc/$p/stat"))); done
  echo $total
}
# rss PID: resident kB of the family.
rss() {
  local total=0 p
  for p in $(family "$1"); do total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done
  echo $total
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bytes_read() { awk '/read$/ {v=$(NF-1); u=substr(v,length(v)-1); n=substr(v,1,length(v)-2);
  if (u=="GB") n*=1e9; else if (u=="MB") n*=1e6; else if (u=="KB") n*=1e3; print n}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-") print "-"; else printf "%.2f", a/b}'; }
# row MEASURE NODE NGINX [BEFORE]
row() {
  if [ -n "$BEFORE_PID" ]; then
    printf "%-40s %12s %12s %10s %12s %10s\n" "$1" "$2" "$3" "$(ratio "$2" "$3")" "${4:--}" "$(ratio "${4:--}" "$3")"
  else
    printf "%-40s %12s %12s %10s\n" "$1" "$2" "$3" "$(ratio "$2" "$3")"
  fi
}

# busy: clock ticks the whole machine spent working (every CPU, every
# process, interrupts and softirqs included).
busy() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; }

# measure KIND URL PID: one run, printing two figures.
#   small: requests/s, and server CPU µs per request (64 connections);
#   large: server CPU seconds per GB, and machine CPU seconds per GB
#          (4 connections on the 1 GiB file).
# Over loopback the TCP work of a transfer (the client's ACKs, the data's
# arrival) is done by whichever side holds the socket when it comes, so
# the server's own share moves with timing while the machine's total does
# not; the large run reports both.
measure() {
  local before after mbefore mafter o hz
  hz=$(getconf CLK_TCK)
  before=$(ticks "$3"); mbefore=$(busy)
  if [ "$1" = large ]; then o=$(load wrk -t2 -c4 -d"$DUR" "$2"); else o=$(load wrk -t2 -c"$CONNS" -d"$DUR" "$2"); fi
  after=$(ticks "$3"); mafter=$(busy)
  case $1 in
    small) echo "$o" | awk -v t=$((after - before)) -v hz="$hz" '/requests in/ {n=$1} /Requests\/sec/ {r=$2}
             END {printf "%s %.2f\n", r, t/hz*1e6/n}' ;;
    large) echo "$o" | bytes_read | awk -v t=$((after - before)) -v m=$((mafter - mbefore)) -v hz="$hz" \
             '{printf "%.3f %.3f\n", (t/hz)/($1/1e9), (m/hz)/($1/1e9)}' ;;
  esac
}
# both KIND PATH SCHEME: ROUNDS alternating runs, node then nginx (then
# the BEFORE node); prints the median of each figure: node's two, nginx's
# two, and the before node's two (or "- -").
both() {
  local np=$NH xp=$XH bp=$BH r
  [ "$3" = https ] && { np=$NS; xp=$XS; bp=$BS; }
  for r in $(seq "$ROUNDS"); do
    echo "n $(measure "$1" "$3://127.0.0.1:$np$2" "$NODE_PID")"
    echo "x $(measure "$1" "$3://127.0.0.1:$xp$2" "$NGINX_PID")"
    [ -n "$BEFORE_PID" ] && echo "b $(measure "$1" "$3://127.0.0.1:$bp$2" "$BEFORE_PID")"
  done > "$work/runs.txt"
  if [ -n "$BEFORE_PID" ]; then
    echo "$(col n 2) $(col n 3) $(col x 2) $(col x 3) $(col b 2) $(col b 3)"
  else
    echo "$(col n 2) $(col n 3) $(col x 2) $(col x 3) - -"
  fi
}
# col WHO FIELD: the median of one figure in runs.txt.
col() { awk -v w="$1" -v f="$2" '$1 == w {print $f}' "$work/runs.txt" | median; }

# memory PORT PID: resident kB under 5,000 keep-alive clients.
memory() {
  local o
  load wrk -t2 -c5000 -d10s "http://127.0.0.1:$1/bench/1k.bin" > "$work/mem.txt" 2>&1 &
  sleep 8
  rss "$2"
  wait
}

# during_sync PORT: requests/s and failed responses while the files are
# replaced as rsync does (a temp file renamed over the old) every 20 ms.
during_sync() {
  local stop="$work/stop" o
  rm -f "$stop"
  ( i=0; while [ ! -e "$stop" ]; do
      for f in 1k 64k; do
        cp "$work/data/bench/$f.bin" "$work/data/bench/.$f.bin.Xy12Ab" && mv "$work/data/bench/.$f.bin.Xy12Ab" "$work/data/bench/$f.bin"
      done
      sleep 0.02
    done ) &
  local loop=$!
  o=$(load wrk -t2 -c"$CONNS" -d"$DUR" "http://127.0.0.1:$1/bench/64k.bin")
  touch "$stop"; wait "$loop"
  echo "$(echo "$o" | awk '/Requests\/sec/ {print $2}') $(echo "$o" | awk '/Non-2xx/ {n+=$NF}
    /Socket errors/ {gsub(/,/, ""); n+=$4+$6+$8+$10} END {print n+0}')"
}

{
  echo "micromirror serving benchmark, $(date -u +%F), $n cores (servers on CPU $SRV, wrk on CPU $LOAD), wrk -c$CONNS -d$DUR, median of $ROUNDS, access logs on"
  echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), micromirror $("$BIN" version | cut -d' ' -f2)"
  if [ -n "$BEFORE_PID" ]; then
    echo "before: $("$BEFORE" version | cut -d' ' -f2)"
    printf "%-40s %12s %12s %10s %12s %10s\n" "measure" "node" "nginx" "node/nginx" "before" "before/nginx"
  else
    printf "%-40s %12s %12s %10s\n" "measure" "node" "nginx" "node/nginx"
  fi
  for scheme in http https; do
    for f in 1k 64k; do
      read -r nr nu xr xu br bu <<<"$(both small "/bench/$f.bin" "$scheme")"
      row "$scheme requests/s, $f file" "$nr" "$xr" "$br"
      row "$scheme CPU µs per request, $f file" "$nu" "$xu" "$bu"
    done
    read -r ns nm xs xm bs bm <<<"$(both large /bench/1g.bin "$scheme")"
    row "$scheme CPU s per GB, 1 GiB file" "$ns" "$xs" "$bs"
    row "$scheme machine CPU s per GB, 1 GiB" "$nm" "$xm" "$bm"
  done
  bmem=-; [ -n "$BEFORE_PID" ] && bmem=$(memory "$BH" "$BEFORE_PID")
  row "resident kB, 5,000 keep-alive clients" "$(memory "$NH" "$NODE_PID")" "$(memory "$XH" "$NGINX_PID")" "$bmem"
  read -r nv nf <<<"$(during_sync "$NH")"; read -r xv xf <<<"$(during_sync "$XH")"
  bv=- bf=-; [ -n "$BEFORE_PID" ] && read -r bv bf <<<"$(during_sync "$BH")"
  row "requests/s, 64k file, files replaced" "$nv" "$xv" "$bv"
  printf "%-40s %12s %12s %10s %12s\n" "failed responses, files replaced" "$nf" "$xf" "" "$bf"
  echo "(requests/s: higher is better; CPU and memory: lower is better;"
  echo " machine CPU: every CPU's busy time, server, wrk and kernel, per GB)"
} | tee "$out/serving.txt"
# ONLY=serving stops here (the rest takes minutes and needs no nginx).
[ "${ONLY:-}" = serving ] && exit 0

# Soak: a node under every hostile load at once (internal/hostile
# BenchmarkSoak; SOAK=10s shortens it), its normal clients' failures and
# latency beside an unloaded run, and its memory.
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
"$GO" test ./internal/hostile -run '^$' -bench Soak -benchtime 1x -timeout 20m > "$work/soak.txt"
{
  echo
  echo "Soak: ${SOAK:-1m} of 2,000 slow-header clients, 500 stalled readers and a distinct-path flood, with 8 normal clients"
  awk '/BenchmarkSoak/ {for (i=1;i<=NF;i++) v[$(i+1)]=$i}
       END {
         printf "%-40s %12s %12s\n", "measure", "unloaded", "under load"
         printf "%-40s %12s %12s\n", "normal clients: p50 ms", v["ms-p50-unloaded"], v["ms-p50-loaded"]
         printf "%-40s %12s %12s\n", "normal clients: p99 ms", v["ms-p99-unloaded"], v["ms-p99-loaded"]
         printf "%-40s %12s\n", "normal clients: requests, failures", sprintf("%d, %d", v["normal-requests"], v["normal-failures"])
         printf "%-40s %12s\n", "flood requests answered", v["flood-requests"]
         printf "%-40s %12s\n", "node resident MB: start, peak, after", sprintf("%.0f, %.0f, %.0f", v["MB-rss-start"], v["MB-rss-peak"], v["MB-rss-after"])
       }' "$work/soak.txt"
} | tee -a "$out/serving.txt"

# MQTT fan-out: one announcement to 200 subscribed nodes, Mosquitto and the
# embedded broker in the same run.
"$GO" test ./internal/mqtt -run '^$' -bench Fanout -benchtime 50x > "$work/fanout.txt"
{
  echo
  echo "MQTT fan-out to 200 subscribers (publish -> receive), 50 announcements"
  printf "%-34s %12s %12s %10s\n" "measure" "embedded" "mosquitto" "emb/mosq"
  awk '/BenchmarkFanout\/mosquitto/ {for (i=1;i<=NF;i++) m[$(i+1)]=$i}
       /BenchmarkFanout\/embedded/  {for (i=1;i<=NF;i++) e[$(i+1)]=$i}
       END {
         n=split("µs-median-latency µs-p99-latency µs-median-spread", k, " ")
         for (j=1;j<=n;j++) printf "%-34s %12s %12s %10.2f\n", k[j], e[k[j]], m[k[j]], e[k[j]]/m[k[j]]
       }' "$work/fanout.txt"
  echo "(lower is better)"
} | tee -a "$out/serving.txt"

# Watchtower store: ingest rate and query latency, SQLite against
# PostgreSQL in the same run (PostgreSQL started in a temp dir).
"$GO" test ./internal/watchtower -run '^$' -bench 'Ingest' -benchtime 2000x > "$work/wt-ingest.txt"
"$GO" test ./internal/watchtower -run '^$' -bench 'Queries' -benchtime 3x > "$work/wt-queries.txt"
{
  echo
  echo "Watchtower store (100 nodes; queries over 6 h of minute batches, 5 projects each)"
  printf "%-34s %12s %12s %10s\n" "measure" "sqlite" "postgres" "pg/sqlite"
  awk '/BenchmarkIngest\/sqlite/ {s=$(NF-1)} /BenchmarkIngest\/postgres/ {p=$(NF-1)}
       END {printf "%-34s %12s %12s %10.2f\n", "ingest batches/s", s, p, p/s}' "$work/wt-ingest.txt"
  awk '/Queries\/sqlite\/usage/ {su=$(NF-1)} /Queries\/postgres\/usage/ {pu=$(NF-1)}
       /Queries\/sqlite\/dashboard/ {sd=$(NF-1)} /Queries\/postgres\/dashboard/ {pd=$(NF-1)}
       END {printf "%-34s %12s %12s %10.2f\n%-34s %12s %12s %10.2f\n", "usage API ms/request", su, pu, pu/su, "dashboard ms/request", sd, pd, pd/sd}' "$work/wt-queries.txt"
} | tee -a "$out/serving.txt"
"$GO" test ./internal/watchtower -run '^$' -bench 'Month' -benchtime 3x -timeout 20m > "$work/wt-month.txt"
{
  echo
  echo "Watchtower at month scale (3 projects a node; 30 days of hourly and daily roll-ups, 2 days of minutes)"
  printf "%-34s %12s %12s\n" "measure" "sqlite, 100" "pg, 1,000"
  for q in usage-day usage-week usage-month usage-month-by-node demand nodes metrics dashboard dashboard-7d dashboard-30d node-page sponsor-page-query; do
    awk -v q="$q" '$1 ~ "Month/sqlite/"q"-" {s=$(NF-1)} $1 ~ "Month/postgres/"q"-" {p=$(NF-1)}
      END {printf "%-34s %12s %12s\n", q" ms", s, p}' "$work/wt-month.txt"
  done
  for q in ingest-alone ingest-4-pushers ingest-beside-dashboard; do
    awk -v q="$q" '$1 ~ "Month/sqlite/"q"-" {s=$5} $1 ~ "Month/postgres/"q"-" {p=$5}
      END {printf "%-34s %12s %12s\n", q" batches/s", s, p}' "$work/wt-month.txt"
  done
} | tee -a "$out/serving.txt"

# Sync: a node's sync of a large tree against a bare rsync of it from the
# same daemon, in the same run (internal/syncer BenchmarkSyncAgainstBareRsync;
# SYNC_FILES sets the tree, default 300,000 files): wall time and what the
# upstream's daemon spends, for an unchanged tree and 1% of files changed,
# for a node without a journal, one reading the announcer's change journal
# and one reading a quick-fedora-mirror file list; then one file changed,
# from the announcement to the file in the journal node's tree.
"$GO" test ./internal/syncer -run '^$' -bench SyncAgainstBare -benchtime 1x -timeout 60m > "$work/sync.txt"
{
  echo
  awk '/BenchmarkSyncAgainstBareRsync/ {for (i=1;i<=NF;i++) v[$(i+1)]=$i}
       END {
         printf "Sync of %d files from a local rsync daemon, against bare rsync (medians)\n", v["files"]
         printf "%-34s %10s %10s %10s %10s\n", "measure", "node", "journal", "file list", "bare"
         split("unchanged changed1pct", k, " ")
         for (j=1;j<=2;j++) {
           printf "%-34s %10.2f %10.2f %10.2f %10.2f\n", "wall s, " k[j], v["s-node-wall-" k[j]], v["s-journal-wall-" k[j]], v["s-filelist-wall-" k[j]], v["s-bare-wall-" k[j]]
           printf "%-34s %10.2f %10.2f %10.2f %10.2f\n", "upstream CPU s, " k[j], v["s-node-upcpu-" k[j]], v["s-journal-upcpu-" k[j]], v["s-filelist-upcpu-" k[j]], v["s-bare-upcpu-" k[j]]
           printf "%-34s %10.2f %10.2f %10.2f\n", "  wall / bare, " k[j], v["wall-node/bare-" k[j]], v["wall-journal/bare-" k[j]], v["wall-filelist/bare-" k[j]]
           printf "%-34s %10.2f %10.2f %10.2f\n", "  upstream CPU / bare, " k[j], v["upcpu-node/bare-" k[j]], v["upcpu-journal/bare-" k[j]], v["upcpu-filelist/bare-" k[j]]
         }
         printf "%-34s %10s %10.2f %10s %10.2f\n", "upstream CPU s, one file", "", v["s-journal-upcpu-onefile"], "", v["s-bare-upcpu-onefile"]
         printf "%-34s %10s %10.2f\n", "announced to served s, one file", "", v["s-announced-to-served-onefile"]
       }' "$work/sync.txt"
} | tee -a "$out/serving.txt"

# Fleet placement: a 1,000-node, 40-project fleet planned, against the
# placement an operator makes by hand (new nodes take the most popular
# projects that fit), both valued with the same demand model.
"$GO" test ./internal/placement -run '^$' -bench Plan1000x40 -benchtime 5x > "$work/plan.txt"
{
  echo
  echo "Fleet plan, 1,000 nodes x 40 projects (expected bytes served per day)"
  awk '/BenchmarkPlan1000x40/ {for (i=1;i<=NF;i++) v[$(i+1)]=$i; ms=$3/1e6}
       END {
         printf "%-34s %12s %12s %10s\n", "measure", "planned", "by hand", "plan/hand"
         printf "%-34s %12s %12s %10.2f\n", "TB/day served", v["TB/day-planned"], v["TB/day-by-popularity"], v["planned/popularity"]
         printf "%-34s %12s\n", "TB/day served today", v["TB/day-now"]
         printf "%-34s %12s\n", "changes (additions, removals)", sprintf("%d, %d", v["additions"], v["removals"])
         printf "%-34s %12.0f\n", "planning time, ms", ms
       }' "$work/plan.txt"
} | tee -a "$out/serving.txt"
