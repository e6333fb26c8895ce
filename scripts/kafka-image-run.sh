#!/bin/sh
# The entrypoint of the Kafka image scripts/docker.sh builds (busybox sh, no bash in there).
# Configured the way the official apache/kafka image is, so the tests give both images the
# same environment:
#
#   KAFKA_<NAME>   a broker setting: NAME lower-cased, `___` → `-`, `__` → `_`, `_` → `.`
#                  (KAFKA_LOG_DIRS → log.dirs), except the JVM's variables listed below
#   CLUSTER_ID     the KRaft cluster id (required with KAFKA_PROCESS_ROLES)
#   KAFKA_HEAP_OPTS, KAFKA_OPTS   JVM options (default heap: as scripts/kafka.sh)
#
# Formats the storage on the first start only, so `docker start` after a stop or a kill
# comes back with its data. `run --print-config` prints server.properties and exits.
set -eu

KAFKA_HOME=/kafka
CONFIG="$KAFKA_HOME/server.properties"

# The names the apache/kafka image also keeps out of server.properties, and the heap.
is_jvm_variable() {
  case "$1" in
    KAFKA_VERSION | KAFKA_HEAP_OPT | KAFKA_HEAP_OPTS | KAFKA_LOG4J_OPTS | KAFKA_OPTS | KAFKA_JMX_OPTS | \
      KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_LOG4J_ROOT_LOGLEVEL | KAFKA_LOG4J_LOGGERS | \
      KAFKA_TOOLS_LOG4J_LOGLEVEL) return 0 ;;
    *) return 1 ;;
  esac
}

setting_name() {
  printf '%s\n' "${1#KAFKA_}" | tr 'A-Z' 'a-z' | sed 's/___/-/g; s/__/@/g; s/_/./g; s/@/_/g'
}

server_properties() {
  env | sort | while IFS= read -r line; do
    case "$line" in KAFKA_*=*) ;; *) continue ;; esac
    name="${line%%=*}"
    is_jvm_variable "$name" && continue
    printf '%s=%s\n' "$(setting_name "$name")" "${line#*=}"
  done
}

setting() { sed -n "s/^$1=//p" "$CONFIG" | tail -n 1; }

if [ "${1:-}" = "--print-config" ]; then
  server_properties
  exit 0
fi

server_properties >"$CONFIG"
# the apache/kafka image's default
grep -q '^log\.dirs=' "$CONFIG" || echo "log.dirs=/tmp/kraft-combined-logs" >>"$CONFIG"

CP="$KAFKA_HOME/libs/*"
LOG4J="-Dlog4j2.configurationFile=$KAFKA_HOME/log4j2.properties"
if [ -n "$(setting process.roles)" ] && [ ! -f "$(setting log.dirs | cut -d, -f1)/meta.properties" ]; then
  : "${CLUSTER_ID:?CLUSTER_ID is required in KRaft mode}"
  echo "===> formatting KRaft storage (cluster id $CLUSTER_ID)"
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$LOG4J" -cp "$CP" \
    kafka.tools.StorageTool format --ignore-formatted --cluster-id="$CLUSTER_ID" -c "$CONFIG"
fi

echo "===> starting Kafka"
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
  -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "$LOG4J" ${KAFKA_OPTS:-} \
  -cp "$CP" kafka.Kafka "$CONFIG"
