#!/usr/bin/env bash
# A real, single-node Apache Kafka (KRaft: broker + controller in one JVM) on loopback,
# from Maven Central jars and the machine's Java 17. No Docker needed.
#
#   scripts/kafka.sh install                         fetch the jars into .kafka/libs (once)
#   scripts/kafka.sh start [--dir D] [--port P] [--owner-pid PID [--rm-on-owner-exit]]
#                                                    format (first time) + start, wait until
#                                                    it answers metadata, print KAFKA_BROKERS=…
#                                                    With --owner-pid, a watchdog stops the
#                                                    broker (and deletes D) when PID exits.
#   scripts/kafka.sh stop  [--dir D]                 SIGTERM and wait (clean shutdown)
#   scripts/kafka.sh kill  [--dir D]                 SIGKILL (crash)
#   scripts/kafka.sh status [--dir D]                running? prints KAFKA_BROKERS=… if so
#   scripts/kafka.sh wait [B [S]]                    wait until the broker at B (any host, e.g.
#                                                    a container's) is ready as
#                                                    `start` waits for it, S seconds at most
#                                                    (default KAFKA_START_TIMEOUT)
#   scripts/kafka.sh settings                        the settings every test broker gets (all but
#                                                    node id, listeners and data dir), as k=v
#   scripts/kafka.sh settings --port P --controller-port C --data-dir D
#                                                    a whole node's: those of a broker on
#                                                    127.0.0.1:P (controller :C), data in D
#   scripts/kafka.sh free-port [EXCEPT]              a loopback port nobody uses (not EXCEPT),
#                                                    below the ephemeral range
#   scripts/kafka.sh log4j                           a broker's log4j2 settings (what `start` writes)
#   scripts/kafka.sh version                         the Kafka version, from pom.xml
#   scripts/kafka.sh topic NAME PARTITIONS [--brokers B]   create a topic (Kafka's TopicCommand)
#   scripts/kafka.sh groups --group G [--brokers B]        committed offsets of a group
#                                                    (Kafka's ConsumerGroupCommand --describe)
#   scripts/kafka.sh tool CLASS ARGS...              run any Kafka tool class from the jars
#
# D defaults to $KAFKA_DIR or .kafka/run. The data dir keeps the KRaft metadata and logs,
# so `stop` + `start` on the same D restarts with the same data and the same ports.
# B defaults to $KAFKA_BROKERS, else the broker started in D.
# Environment: KAFKA_START_TIMEOUT (seconds, default 60), KAFKA_HEAP_OPTS
# (default "-Xmx512m -Xms256m"), KAFKA_MAX_MESSAGE_BYTES (default 16 MiB).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_CACHE="$ROOT/.kafka"
LIBS="$KAFKA_CACHE/libs"
DEFAULT_DIR="${KAFKA_DIR:-$KAFKA_CACHE/run}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
MAX_MESSAGE_BYTES="${KAFKA_MAX_MESSAGE_BYTES:-16777216}"
JAVA="${JAVA:-java}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/pom.xml" | head -1; }

# ---------------------------------------------------------------- install
cmd_install() {
  local version stamp
  version="$(kafka_version)"
  [[ -n "$version" ]] || die "cannot read <kafka.version> from $ROOT/pom.xml"
  stamp="$LIBS/.installed-$version"
  if [[ -f "$stamp" ]]; then return 0; fi
  # One installer at a time (parallel test workers may all find the jars missing).
  mkdir -p "$KAFKA_CACHE"
  exec 9>"$KAFKA_CACHE/.install.lock"
  flock 9
  if [[ -f "$stamp" ]]; then exec 9>&-; return 0; fi
  command -v mvn >/dev/null || die "mvn (Maven) is required to fetch the Kafka jars"
  log "fetching Apache Kafka $version jars from Maven Central into $LIBS"
  rm -rf "$LIBS"
  mkdir -p "$LIBS"
  (cd "$ROOT" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory="$LIBS") >&2 \
    || die "mvn dependency:copy-dependencies failed"
  [[ -f "$LIBS/kafka_2.13-$version.jar" ]] || die "kafka_2.13-$version.jar missing after mvn"
  touch "$stamp"
  exec 9>&-
  log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

require_libs() {
  [[ -f "$LIBS/.installed-$(kafka_version)" ]] || cmd_install
  command -v "$JAVA" >/dev/null || die "java (17+) is required"
}

# Runs a Kafka command-line tool class with a small, quick-starting JVM; logs WARN+ to stderr.
run_tool() {
  require_libs
  local cls="$1"; shift
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_CACHE/tools-log4j2.properties" \
    -cp "$LIBS/*" "$cls" "$@"
}

write_tools_log4j() {
  mkdir -p "$KAFKA_CACHE"
  local f="$KAFKA_CACHE/tools-log4j2.properties"
  if [[ ! -f "$KAFKA_CACHE/tools-client.properties" ]]; then
    printf '%s\n' 'request.timeout.ms=10000' 'default.api.timeout.ms=20000' >"$KAFKA_CACHE/tools-client.properties"
  fi
  [[ -f "$f" ]] && return 0
  cat >"$f.tmp" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
EOF
  mv "$f.tmp" "$f"
}

# ---------------------------------------------------------------- ports
# A port nobody on this machine uses (in any TCP state), chosen below the kernel's
# ephemeral range so an outgoing client connection can never be holding it when the
# broker restarts on it.
port_in_use() {
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v p=":$hex" 'NR > 1 && (substr($2, length($2) - 4) == p) { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Someone is listening on the port (TIME_WAIT leftovers of a killed broker do not count:
# the JVM binds with SO_REUSEADDR).
port_listening() {
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v p=":$hex" 'NR > 1 && $4 == "0A" && (substr($2, length($2) - 4) == p) { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
  local lo=15000 hi=32000 p i
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range
    if ((eph_lo - 1 < hi)); then hi=$((eph_lo - 1)); fi
    if ((hi - lo < 1000)); then lo=10000; fi
  fi
  for ((i = 0; i < 200; i++)); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
    if ! port_in_use "$p" && [[ "$p" != "${1:-}" ]]; then echo "$p"; return 0; fi
  done
  die "could not find a free port in $lo-$hi"
}

# ---------------------------------------------------------------- protocol probes
# Tiny Kafka protocol client in bash (/dev/tcp + dd + od): no JVM start per poll.
# kafka_rpc HOST PORT FRAME → prints the response bytes (after the 4-byte size) as decimals.
# FRAME is a printf format string holding one complete request (size prefix included).
kafka_rpc() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "$2" >&3
    len=$(dd bs=4 count=1 <&3 2>/dev/null | od -An -tu1 | awk "{ print \$1*16777216 + \$2*65536 + \$3*256 + \$4 }")
    [ -n "$len" ] && [ "$len" -gt 0 ] || exit 1
    head -c "$len" <&3 | od -An -tu1 -v
  ' "$1" "$2" "$3" 2>/dev/null
}

# Metadata v4 (all topics): succeeds when the response lists at least one broker
# (and, with EXPECT_PORT, the first broker advertises that port).
metadata_ok() {
  local host="$1" port="$2" expect_port="${3:-}" out
  # size=23 | api_key=3 (Metadata) | api_version=4 | correlation_id=7 | client_id="kafka.sh"
  # | topics=null (-1: all) | allow_auto_topic_creation=false
  out="$(kafka_rpc "$host" "$port" '\x00\x00\x00\x17\x00\x03\x00\x04\x00\x00\x00\x07\x00\x08kafka.sh\xff\xff\xff\xff\x00')" || return 1
  # bytes: correlation_id(4) throttle(4) broker_count(4) node_id(4) host_len(2) host port(4) …
  local -a b
  read -r -a b <<<"$(echo $out)"
  ((${#b[@]} >= 22)) || return 1
  local corr=$((b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]))
  local count=$((b[8] << 24 | b[9] << 16 | b[10] << 8 | b[11]))
  ((corr == 7 && count >= 1)) || return 1
  if [[ -n "$expect_port" ]]; then
    local hl=$((b[16] << 8 | b[17])) o
    o=$((18 + hl))
    ((${#b[@]} >= o + 4)) || return 1
    local p=$((b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3]))
    ((p == expect_port)) || return 1
  fi
  return 0
}

# FindCoordinator v2 for a group: succeeds once a group coordinator is available. The
# first such request makes the broker create __consumer_offsets, so doing it at start
# spares the first test a "group coordinator is not available" retry.
# KEY_TYPE 0: group coordinator, 1: transaction coordinator (creates __transaction_state,
# which idempotent and transactional producers need).
coordinator_ok() {
  local out key_type="${3:-0}"
  # size=36 | api_key=10 (FindCoordinator) | api_version=2 | correlation_id=8 | client_id="kafka.sh"
  # | key="kafka.sh-warmup" | key_type
  out="$(kafka_rpc "$1" "$2" '\x00\x00\x00\x24\x00\x0a\x00\x02\x00\x00\x00\x08\x00\x08kafka.sh\x00\x0fkafka.sh-warmup\x0'"$key_type")" || return 1
  # bytes: correlation_id(4) throttle(4) error_code(2) …
  local -a b
  read -r -a b <<<"$(echo $out)"
  ((${#b[@]} >= 10 && b[3] == 8 && b[8] == 0 && b[9] == 0))
}

# InitProducerId v1 without a transactional id (what an idempotent producer sends first):
# succeeds once the broker has been given a block of producer ids by the controller, so
# the first idempotent producer of a test does not see COORDINATOR_LOAD_IN_PROGRESS.
producer_ids_ok() {
  local out
  # size=24 | api_key=22 (InitProducerId) | api_version=1 | correlation_id=10 | client_id="kafka.sh"
  # | transactional_id=null | transaction_timeout_ms=60000
  out="$(kafka_rpc "$1" "$2" '\x00\x00\x00\x18\x00\x16\x00\x01\x00\x00\x00\x0a\x00\x08kafka.sh\xff\xff\x00\x00\xea\x60')" || return 1
  # bytes: correlation_id(4) throttle(4) error_code(2) producer_id(8) epoch(2)
  local -a b
  read -r -a b <<<"$(echo $out)"
  ((${#b[@]} >= 10 && b[3] == 10 && b[8] == 0 && b[9] == 0))
}

# Ready as the tests need it: answers metadata advertising PORT (the address clients were
# given), has a group and a transaction coordinator, and hands out producer ids.
broker_ready() {
  metadata_ok "$1" "$2" "$2" && coordinator_ok "$1" "$2" 0 && coordinator_ok "$1" "$2" 1 && producer_ids_ok "$1" "$2"
}

# ---------------------------------------------------------------- start / stop
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  # a zombie (killed, not yet reaped by its parent) is not alive
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$state" != "Z" && -n "$state" ]]
}
read_pid() { [[ -f "$1/kafka.pid" ]] && cat "$1/kafka.pid" || true; }

random_cluster_id() {
  # Kafka's Uuid text form: 16 random bytes, base64url without padding (22 chars). Like
  # Kafka's own Uuid.randomUuid(), never start with "-" (it would read as an option).
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && break
  done
  echo "$id"
}

# The settings every test broker gets, local or in a container (`kafka.sh settings`):
# all but the node's identity, its listeners and its data dir.
broker_settings() {
  cat <<EOF
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true

offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
# after a SIGKILL the restarted broker waits for its old registration to be fenced
# (default 9 s); keep that short
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000

# records up to ~16 MiB (tests send 9.5 MB values)
message.max.bytes=$MAX_MESSAGE_BYTES
replica.fetch.max.bytes=$MAX_MESSAGE_BYTES
replica.fetch.response.max.bytes=$((MAX_MESSAGE_BYTES * 2))
socket.request.max.bytes=$((MAX_MESSAGE_BYTES * 4))

num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=268435456
EOF
}

# The node's identity, listeners and data dir: single node, KRaft combined mode, loopback only
# (a container on the host network gets the same, with its own ports and data dir).
node_settings() {
  local port="$1" cport="$2" data="$3"
  cat <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
EOF
}

write_server_properties() {
  local dir="$1" port="$2" cport="$3"
  cat >"$dir/server.properties" <<EOF
# written by scripts/kafka.sh — single node, KRaft combined mode, loopback only
$(node_settings "$port" "$cport" "$dir/data")

$(broker_settings)
EOF
  broker_log4j >"$dir/log4j2.properties"
}

# A broker's log4j2 settings: to stdout, the chatty loggers at warn.
broker_log4j() {
  cat <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = warn
EOF
}

parse_dir_port() {
  DIR="$DEFAULT_DIR" PORT="" OWNER_PID="" RM_ON_OWNER_EXIT=""
  while (($#)); do
    case "$1" in
      --dir) DIR="$2"; shift 2 ;;
      --port) PORT="$2"; shift 2 ;;
      --owner-pid) OWNER_PID="$2"; shift 2 ;;
      --rm-on-owner-exit) RM_ON_OWNER_EXIT=1; shift ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
}

start_watchdog() {
  local pid="$1"
  # If the owner (e.g. the test runner) dies without stopping us, stop the broker (and,
  # with --rm-on-owner-exit, delete its dir). Exits by itself when the broker stops.
  (
    trap '' HUP INT
    while kill -0 "$OWNER_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 "$STOP_TIMEOUT"); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    if [[ -n "$RM_ON_OWNER_EXIT" ]] && ! kill -0 "$OWNER_PID" 2>/dev/null; then
      sleep 0.5
      rm -rf "$DIR"
    fi
  ) </dev/null >/dev/null 2>&1 &
  disown || true
}

cmd_start() {
  parse_dir_port "$@"
  require_libs
  local pid
  pid="$(read_pid "$DIR")"
  if pid_alive "$pid"; then
    local p
    p="$(cat "$DIR/port")"
    if metadata_ok 127.0.0.1 "$p"; then
      log "already running in $DIR (pid $pid)"
      echo "KAFKA_BROKERS=127.0.0.1:$p"
      return 0
    fi
    die "a broker process (pid $pid) exists in $DIR but does not answer on port $p; run: $0 kill --dir $DIR"
  fi

  # Same ports as last time in this dir (restart), unless told otherwise. Ports chosen
  # here ("fresh") may lose a race with another process binding them first: then the
  # start is retried on new ones.
  local port cport i fresh=""
  port="${PORT:-$(cat "$DIR/port" 2>/dev/null || true)}"
  cport="$(cat "$DIR/controller.port" 2>/dev/null || true)"
  if [[ -z "$port" ]]; then port="$(free_port)"; fresh=1; fi
  for ((i = 0; i < 50; i++)); do port_listening "$port" || break; sleep 0.1; done
  if port_listening "$port"; then die "port $port is already in use (kept from an earlier start in $DIR, or --port)"; fi
  if [[ -z "$cport" ]] || port_listening "$cport"; then cport="$(free_port "$port")"; fi

  write_server_properties "$DIR" "$port" "$cport"
  if [[ ! -f "$DIR/data/meta.properties" ]]; then
    local cid
    cid="$(random_cluster_id)"
    log "formatting KRaft storage in $DIR/data (cluster id $cid)"
    rm -rf "$DIR/data"
    write_tools_log4j
    run_tool kafka.tools.StorageTool format --ignore-formatted --cluster-id="$cid" \
      -c "$DIR/server.properties" >"$DIR/format.log" 2>&1 \
      || { cat "$DIR/format.log" >&2; die "kafka-storage format failed"; }
  fi

  local heap="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}" attempt started_at=$SECONDS deadline marker
  for attempt in 1 2 3; do
    echo "$port" >"$DIR/port"
    echo "$cport" >"$DIR/controller.port"
    write_server_properties "$DIR" "$port" "$cport"
    log "starting Kafka $(kafka_version) in $DIR on 127.0.0.1:$port (controller :$cport)"
    marker="===== scripts/kafka.sh start $(date -u +%Y-%m-%dT%H:%M:%SZ) port $port controller $cport"
    echo "$marker" >>"$DIR/kafka.log"
    # setsid: its own session, so a Ctrl-C aimed at the test runner does not hit the broker
    # (the --owner-pid watchdog and `stop` take care of it instead).
    # shellcheck disable=SC2086
    setsid "$JAVA" $heap -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$DIR/log4j2.properties" \
      -Dkafka.logs.dir="$DIR" \
      -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" \
      >>"$DIR/kafka.log" 2>&1 </dev/null &
    pid=$!
    disown "$pid" 2>/dev/null || true
    echo "$pid" >"$DIR/kafka.pid"
    [[ -z "$OWNER_PID" ]] || start_watchdog "$pid"

    deadline=$((SECONDS + START_TIMEOUT))
    while :; do
      if ! pid_alive "$pid"; then
        rm -f "$DIR/kafka.pid"
        if [[ -n "$fresh" ]] && ((attempt < 3)) \
          && sed -n "\\|^$marker\$|,\$p" "$DIR/kafka.log" | grep -q 'Address already in use'; then
          log "port $port or $cport was taken meanwhile; retrying on other ports"
          port="$(free_port)"
          cport="$(free_port "$port")"
          continue 2
        fi
        log "broker process exited during startup; last lines of $DIR/kafka.log:"
        tail -n 40 "$DIR/kafka.log" >&2
        die "Kafka failed to start"
      fi
      if broker_ready 127.0.0.1 "$port"; then break 2; fi
      if ((SECONDS >= deadline)); then
        log "broker did not answer metadata (or has no group/transaction coordinator or producer ids) on 127.0.0.1:$port within ${START_TIMEOUT}s; last lines of $DIR/kafka.log:"
        tail -n 40 "$DIR/kafka.log" >&2
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$DIR/kafka.pid"
        die "Kafka start timed out"
      fi
      sleep 0.2
    done
  done
  log "ready after $((SECONDS - started_at))s (pid $pid)"
  echo "KAFKA_BROKERS=127.0.0.1:$port"
}

# Waits until the process is gone and nothing listens on its port any more (a killed
# JVM's thread group leader can be reported dead a moment before its sockets close).
wait_gone() {
  local pid="$1" timeout="$2" port="${3:-}" i
  for ((i = 0; i < timeout * 10; i++)); do
    if ! pid_alive "$pid" && { [[ -z "$port" ]] || ! port_listening "$port"; }; then return 0; fi
    sleep 0.1
  done
  return 1
}

cmd_stop() {
  parse_dir_port "$@"
  local pid
  pid="$(read_pid "$DIR")"
  if ! pid_alive "$pid"; then log "not running ($DIR)"; rm -f "$DIR/kafka.pid"; return 0; fi
  log "stopping pid $pid (SIGTERM)"
  kill -TERM "$pid"
  if ! wait_gone "$pid" "$STOP_TIMEOUT" "$(cat "$DIR/port" 2>/dev/null || true)"; then
    log "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 "$(cat "$DIR/port" 2>/dev/null || true)" || die "pid $pid did not exit"
  fi
  rm -f "$DIR/kafka.pid"
  log "stopped"
}

cmd_kill() {
  parse_dir_port "$@"
  local pid
  pid="$(read_pid "$DIR")"
  if ! pid_alive "$pid"; then log "not running ($DIR)"; rm -f "$DIR/kafka.pid"; return 0; fi
  log "killing pid $pid (SIGKILL)"
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 "$(cat "$DIR/port" 2>/dev/null || true)" || die "pid $pid did not exit"
  rm -f "$DIR/kafka.pid"
}

cmd_status() {
  parse_dir_port "$@"
  local pid
  pid="$(read_pid "$DIR")"
  if pid_alive "$pid" && metadata_ok 127.0.0.1 "$(cat "$DIR/port")"; then
    log "running (pid $pid, dir $DIR)"
    echo "KAFKA_BROKERS=127.0.0.1:$(cat "$DIR/port")"
  else
    log "not running ($DIR)"
    return 1
  fi
}

# For a broker this script did not start (one in a container): the readiness `start`
# waits for. Exit 0 once ready, 1 after the timeout.
cmd_wait() {
  (($# <= 2)) || die "usage: $0 wait [B [S]]"
  local BROKERS="${1:-}" timeout="${2:-$START_TIMEOUT}" first host port deadline
  first="$(resolve_brokers)"
  first="${first%%,*}"
  host="${first%:*}" port="${first##*:}"
  deadline=$((SECONDS + timeout))
  until broker_ready "$host" "$port"; do
    ((SECONDS < deadline)) || die "no ready broker at $host:$port within ${timeout}s"
    sleep 0.2
  done
  echo "KAFKA_BROKERS=$host:$port"
}

# `settings` alone: the shared settings; with a node's ports and data dir, its own first.
cmd_settings() {
  (($#)) || { broker_settings; return; }
  local port="" cport="" data=""
  while (($#)); do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --controller-port) cport="$2"; shift 2 ;;
      --data-dir) data="$2"; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [[ -n "$port" && -n "$cport" && -n "$data" ]] || die "usage: $0 settings [--port P --controller-port C --data-dir D]"
  node_settings "$port" "$cport" "$data"
  broker_settings
}

# ---------------------------------------------------------------- tools
resolve_brokers() {
  if [[ -n "${BROKERS:-}" ]]; then echo "$BROKERS"; return; fi
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then echo "$KAFKA_BROKERS"; return; fi
  if [[ -f "$DEFAULT_DIR/port" ]]; then echo "127.0.0.1:$(cat "$DEFAULT_DIR/port")"; return; fi
  die "no broker: pass --brokers, set KAFKA_BROKERS, or start one with: $0 start"
}

cmd_topic() {
  local name="" partitions="" BROKERS=""
  local -a extra=()
  while (($#)); do
    case "$1" in
      --brokers) BROKERS="$2"; shift 2 ;;
      --config) extra+=(--config "$2"); shift 2 ;;
      *) if [[ -z "$name" ]]; then name="$1"; elif [[ -z "$partitions" ]]; then partitions="$1"; else die "unknown argument: $1"; fi; shift ;;
    esac
  done
  [[ -n "$name" && -n "$partitions" ]] || die "usage: $0 topic NAME PARTITIONS [--brokers B] [--config k=v]"
  write_tools_log4j
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(resolve_brokers)" \
    --command-config "$KAFKA_CACHE/tools-client.properties" \
    --create --if-not-exists --topic "$name" --partitions "$partitions" --replication-factor 1 \
    "${extra[@]}"
}

cmd_groups() {
  local group="" BROKERS=""
  while (($#)); do
    case "$1" in
      --group) group="$2"; shift 2 ;;
      --brokers) BROKERS="$2"; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [[ -n "$group" ]] || die "usage: $0 groups --group G [--brokers B]"
  write_tools_log4j
  # ConsumerGroupCommand prints "Error: …" and still exits 0 on failure; turn that into
  # exit codes: 0 = table printed, 3 = the group does not exist (nothing committed), 1 = error.
  local out err rc=0
  err="$(mktemp)"
  out="$(run_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$(resolve_brokers)" --describe --offsets --group "$group" \
    --command-config "$KAFKA_CACHE/tools-client.properties" 2>"$err")" || rc=$?
  if grep -q 'GroupIdNotFoundException' <<<"$out" "$err"; then
    rm -f "$err"
    log "group '$group' does not exist (no committed offsets)"
    return 3
  fi
  if ((rc != 0)) || grep -q '^Error:' <<<"$out"; then
    printf '%s\n' "$out" >&2
    cat "$err" >&2
    rm -f "$err"
    die "ConsumerGroupCommand failed for group '$group'"
  fi
  cat "$err" >&2
  rm -f "$err"
  printf '%s\n' "$out"
}

cmd_tool() {
  (($#)) || die "usage: $0 tool CLASS ARGS..."
  write_tools_log4j
  run_tool "$@"
}

usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"
  (($#)) && shift
  case "$cmd" in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    kill) cmd_kill "$@" ;;
    status) cmd_status "$@" ;;
    wait) cmd_wait "$@" ;;
    settings) cmd_settings "$@" ;;
    free-port) free_port "$@" ;;
    log4j) broker_log4j ;;
    version) kafka_version ;;
    topic) cmd_topic "$@" ;;
    groups) cmd_groups "$@" ;;
    tool) cmd_tool "$@" ;;
    -h | --help | help | "") usage ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
