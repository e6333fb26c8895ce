#!/usr/bin/env bash
# A Docker engine and a Kafka image for the tests' testcontainers broker (KAFKA_TESTCONTAINERS=1),
# with no image registry: the image is built here from the machine's Java 17, Debian's
# busybox-static and the Kafka jars of scripts/kafka.sh.
#
#   scripts/docker.sh install        Debian's docker.io and busybox-static, when absent (apt-get)
#   scripts/docker.sh start          an engine: the one DOCKER_HOST names, when set (it must
#                                    answer), else a private dockerd started here as root, with
#                                    its own socket, data root, exec root and pid file in D (never
#                                    the system's daemon or /var/run/docker.sock); prints
#                                    DOCKER_HOST=… and TESTCONTAINERS_RYUK_DISABLED=true
#   scripts/docker.sh build          the Kafka image (see `image`), unless it is there already
#                                    with the same key (`image-key`); prints
#                                    KAFKA_TESTCONTAINERS_IMAGE=…
#   scripts/docker.sh stop           stops the dockerd `start` started (SIGTERM to its pid; it
#                                    stops its containers), and anything of it left behind; an
#                                    engine it did not start is left alone
#   scripts/docker.sh status         the private dockerd running? prints DOCKER_HOST=… if so
#   scripts/docker.sh image          the image the tests run: $KAFKA_TESTCONTAINERS_IMAGE, else
#                                    effect-kafka-pipeline/kafka:<Kafka version in pom.xml>
#   scripts/docker.sh image-key      what the built image is cached by: the Kafka version, Java
#                                    build and busybox version it is made of, and its recipe
#
# D is $DOCKER_ENGINE_DIR, else .docker-engine (its data root keeps the image between runs).
# Environment: DOCKER_STORAGE_DRIVER (default overlay2, falling back to vfs when overlay2 does
# not start), DOCKER_START_TIMEOUT and DOCKER_STOP_TIMEOUT (seconds, default 60), JAVA.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_SH="$ROOT/scripts/kafka.sh"
RUN_SCRIPT="$ROOT/scripts/kafka-image-run.sh"
DIR="${DOCKER_ENGINE_DIR:-$ROOT/.docker-engine}"
START_TIMEOUT="${DOCKER_START_TIMEOUT:-60}"
STOP_TIMEOUT="${DOCKER_STOP_TIMEOUT:-60}"
JAVA="${JAVA:-java}"
IMAGE_KEY_LABEL="effect-kafka-pipeline.image-key"
TEST_RUN_LABEL="effect-kafka-pipeline.test-run"

log() { echo "docker.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- install
cmd_install() {
  local -a missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  [[ -x /bin/busybox || -x /usr/bin/busybox ]] || missing+=(busybox-static)
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null && ((EUID == 0)) || die "install ${missing[*]} (Docker Engine and a static busybox)"
  log "apt-get install ${missing[*]}"
  # The package would start the system's daemon; a policy-rc.d that says no keeps it stopped.
  local policy=/usr/sbin/policy-rc.d added=""
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2; }
  } </dev/null || rc=$?
  [[ -z "$added" ]] || rm -f "$policy"
  ((rc == 0)) || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- the engine
OWN_HOST="unix://$DIR/docker.sock"
PID_FILE="$DIR/dockerd.pid"
EXEC_ROOT="$DIR/exec"
CONTAINERD_SOCK="$EXEC_ROOT/containerd/containerd.sock"

engine_answers() { timeout 10 docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Our dockerd: the pid in its pid file, alive, and started with our socket (not a reused pid).
own_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--host $OWN_HOST " || return 1
  echo "$pid"
}

print_env() {
  echo "DOCKER_HOST=$1"
  # Ryuk, testcontainers' reaper, is an image from Docker Hub; the tests remove their own.
  echo "TESTCONTAINERS_RYUK_DISABLED=true"
}

# What of our engine outlives a dockerd that did not stop cleanly: its containers' processes
# (pids in the exec root), then containerd and its shims (started with our exec root's paths).
own_leftovers() {
  local f p
  find "$EXEC_ROOT" -name init.pid 2>/dev/null | while read -r f; do cat "$f"; echo; done
  for p in /proc/[0-9]*; do
    case "$(cat "$p/comm" 2>/dev/null)" in containerd*) ;; *) continue ;; esac
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$EXEC_ROOT/" && echo "${p#/proc/}"
  done
  return 0
}

start_dockerd() {
  local driver="$1"
  # dockerd would turn on IP forwarding, and iptables rules; host networking needs neither.
  setsid dockerd --config-file "$DIR/daemon.json" --host "$OWN_HOST" \
    --data-root "$DIR/data" --exec-root "$EXEC_ROOT" --pidfile "$PID_FILE" \
    --storage-driver "$driver" --bridge=none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false \
    >>"$DIR/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  disown "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + START_TIMEOUT))
  until engine_answers "$OWN_HOST"; do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if ((SECONDS >= deadline)); then
      kill -TERM "$pid" 2>/dev/null || true
      die "dockerd did not answer within ${START_TIMEOUT}s; see $DIR/dockerd.log"
    fi
    sleep 0.2
  done
}

cmd_start() {
  if [[ -n "${DOCKER_HOST:-}" && "$DOCKER_HOST" != "$OWN_HOST" ]]; then
    engine_answers "$DOCKER_HOST" || die "no engine answers at DOCKER_HOST=$DOCKER_HOST (unset it for a private one)"
    log "using the engine at DOCKER_HOST=$DOCKER_HOST"
    print_env "$DOCKER_HOST"
    return 0
  fi
  if own_pid >/dev/null && engine_answers "$OWN_HOST"; then
    log "already running ($DIR, pid $(own_pid))"
    print_env "$OWN_HOST"
    return 0
  fi
  # A unix socket path has 107 bytes at most; containerd's lives under the exec root.
  ((${#CONTAINERD_SOCK} <= 100)) || die "$DIR is too long a path for the engine's sockets; set DOCKER_ENGINE_DIR"
  ((EUID == 0)) || die "a private dockerd runs as root; or set DOCKER_HOST to an engine of yours"
  cmd_install
  command -v docker >/dev/null || die "no docker command (Debian's docker.io has one)"
  (cmd_stop) >/dev/null 2>&1 || true # a dockerd of ours that no longer answers, or its leftovers
  mkdir -p "$DIR"
  echo '{}' >"$DIR/daemon.json" # not /etc/docker/daemon.json: the system's daemon's settings
  rm -f "$DIR/docker.sock" "$PID_FILE"
  local started=$SECONDS driver="${DOCKER_STORAGE_DRIVER:-overlay2}"
  echo "===== scripts/docker.sh start $(date -u +%Y-%m-%dT%H:%M:%SZ) ($driver)" >>"$DIR/dockerd.log"
  if ! start_dockerd "$driver"; then
    [[ -z "${DOCKER_STORAGE_DRIVER:-}" && "$driver" == overlay2 ]] || { tail -n 20 "$DIR/dockerd.log" >&2; die "dockerd exited"; }
    log "dockerd did not start with overlay2; trying vfs (slower, more disk)"
    rm -f "$DIR/docker.sock" "$PID_FILE"
    start_dockerd vfs || { tail -n 20 "$DIR/dockerd.log" >&2; die "dockerd exited"; }
  fi
  # Containers of a run killed before its teardown, stopped with the engine last time.
  docker -H "$OWN_HOST" container prune -f --filter "label=$TEST_RUN_LABEL" >/dev/null
  log "dockerd $(docker -H "$OWN_HOST" version --format '{{.Server.Version}}') ready after $((SECONDS - started))s (pid $(own_pid), $DIR)"
  print_env "$OWN_HOST"
}

wait_exit() {
  local pid="$1" timeout="$2" i
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

cmd_stop() {
  local pid p
  if pid="$(own_pid)"; then
    log "stopping dockerd (pid $pid) and its containers"
    kill -TERM "$pid"
    if ! wait_exit "$pid" "$STOP_TIMEOUT"; then
      log "dockerd still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_exit "$pid" 10 || die "dockerd (pid $pid) did not exit"
    fi
  else
    log "no dockerd of ours running ($DIR)"
  fi
  # containerd exits with dockerd, its shims with their containers; anything still there is
  # ours (it runs from our exec root) and goes now.
  for p in $(own_leftovers); do
    kill -0 "$p" 2>/dev/null || continue
    log "stopping leftover pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
    kill -TERM "$p" 2>/dev/null || true
    wait_exit "$p" 10 || kill -KILL "$p" 2>/dev/null || true
  done
  # Mounts of a dockerd that was killed stay behind otherwise.
  awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -f "$PID_FILE" "$DIR/docker.sock"
}

cmd_status() {
  local pid
  if pid="$(own_pid)" && engine_answers "$OWN_HOST"; then
    log "running (pid $pid, $DIR)"
    echo "DOCKER_HOST=$OWN_HOST"
  else
    log "not running ($DIR)"
    return 1
  fi
}

# ---------------------------------------------------------------- the image
kafka_version() { "$KAFKA_SH" version; }

image_name() {
  local name="${KAFKA_TESTCONTAINERS_IMAGE:-}"
  if [[ -z "$name" ]]; then name="effect-kafka-pipeline/kafka:$(kafka_version)"; fi
  echo "$name"
}

java_home() {
  local java
  java="$(command -v "$JAVA")" || die "java (17+) is required"
  java="$(readlink -f "$java")"
  dirname "$(dirname "$java")"
}

# What the image is made of, hashed: a new Kafka version, Java build, busybox or recipe
# (this script, the entrypoint, the broker's log settings) makes a new image.
cmd_image_key() {
  local bb
  {
    kafka_version
    cat "$(java_home)/release"
    if bb="$(busybox_bin 2>/dev/null)"; then sha256sum <"$bb"; else echo "no busybox"; fi
    sed -n '/^# ---------------------------------------------------------------- the image/,$p' "${BASH_SOURCE[0]}"
    cat "$RUN_SCRIPT"
    "$KAFKA_SH" log4j
  } | sha256sum | cut -c1-16
}

busybox_bin() {
  if [[ -x /bin/busybox ]]; then echo /bin/busybox; elif [[ -x /usr/bin/busybox ]]; then echo /usr/bin/busybox; else die "busybox-static is required (scripts/docker.sh install)"; fi
}

# The JRE's files the broker needs, symlinks resolved (Debian points some into /etc).
# Not the JDK's extras (jmods, headers, sources) nor the desktop libraries.
DESKTOP_LIBS='awt|splashscreen|jsound|fontmanager|atk-wrapper|lcms|mlib_image|javajpeg|j2pcsc'

copy_jre() {
  local jre="$1" to="$2"
  mkdir -p "$to"
  (cd "$jre" && find -L bin/java lib conf release -type f ! -name src.zip ! -name ct.sym 2>/dev/null) \
    | tar -C "$jre" --dereference -cf - -T - | tar -C "$to" -xf -
}

# The shared libraries the JVM and its (non-desktop) native libraries link, by ldd.
copy_libs() {
  local jre="$1" root="$2" lib
  (cd "$jre" && ldd bin/java $(find -L lib -name '*.so' -type f | grep -Ev "$DESKTOP_LIBS")) 2>/dev/null \
    | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u \
    | while read -r lib; do
      [[ "$lib" == "$jre"/* ]] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
}

assemble_root() {
  local root="$1" jre applet
  jre="$(java_home)"
  mkdir -p "$root"/{bin,etc,tmp,kafka/libs,opt}
  chmod 1777 "$root/tmp"
  cp "$(busybox_bin)" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
  done
  copy_jre "$jre" "$root/opt/java"
  copy_libs "$jre" "$root"
  "$KAFKA_SH" install
  cp "$ROOT"/.kafka/libs/*.jar "$root/kafka/libs/"
  install -m 755 "$RUN_SCRIPT" "$root/kafka/run"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  "$KAFKA_SH" log4j >"$root/kafka/log4j2.properties"
}

engine_host() {
  local host="${DOCKER_HOST:-$OWN_HOST}"
  engine_answers "$host" || die "no engine answers at $host: run scripts/docker.sh start first"
  echo "$host"
}

cmd_build() {
  local image key host have started=$SECONDS
  image="$(image_name)"
  case "$image" in apache/kafka:* | docker.io/apache/kafka:*)
    die "$image comes from a registry (testcontainers pulls it); unset KAFKA_TESTCONTAINERS_IMAGE to build the local one" ;;
  esac
  host="$(engine_host)"
  key="$(cmd_image_key)"
  have="$(docker -H "$host" image inspect --format "{{ index .Config.Labels \"$IMAGE_KEY_LABEL\" }}" "$image" 2>/dev/null || true)"
  if [[ "$have" == "$key" ]]; then
    log "$image is built already (key $key)"
    echo "KAFKA_TESTCONTAINERS_IMAGE=$image"
    return 0
  fi
  log "building $image (key $key): busybox + $(java_home) + the Kafka jars"
  mkdir -p "$DIR"
  STAGE="$(mktemp -d "$DIR/build.XXXXXX")"
  trap 'rm -rf "$STAGE"' EXIT
  assemble_root "$STAGE/root"
  tar -C "$STAGE/root" --numeric-owner -cf - . | docker -H "$host" import \
    --change 'ENV PATH=/opt/java/bin:/bin JAVA_HOME=/opt/java' \
    --change 'CMD ["/kafka/run"]' \
    --change "LABEL $IMAGE_KEY_LABEL=$key" \
    - "$image" >/dev/null
  rm -rf "$STAGE"
  trap - EXIT
  log "built $image in $((SECONDS - started))s ($(docker -H "$host" image inspect --format '{{.Size}}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }'))"
  echo "KAFKA_TESTCONTAINERS_IMAGE=$image"
}

usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"
  (($#)) && shift
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    build) cmd_build ;;
    image) image_name ;;
    image-key) cmd_image_key ;;
    -h | --help | help | "") usage ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
