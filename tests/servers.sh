#!/usr/bin/env bash
# Real servers for the integration tests: a single-node Apache Kafka (KRaft,
# broker and controller in one JVM) and a redis-server, both on 127.0.0.1.
#
#   tests/servers.sh up     fetch Kafka if needed, start both, wait until ready
#   tests/servers.sh env    print `export TC_KAFKA_BROKERS=... TC_REDIS_HOST=...`
#   tests/servers.sh down   stop what `up` started (by PID, nothing else)
#   tests/servers.sh status
#
# Several test runs share this machine, so every run picks free ports and keeps
# its state (ports, PIDs, data, logs) in its own directory, $TC_SERVERS_DIR
# (default build/servers of this tree). Kafka comes from Maven Central through
# mvn (org.apache.kafka:kafka_2.13 and its runtime dependencies) into
# ${TC_CACHE_DIR:-$HOME/.cache/tidecast}/kafka-<version>; a second run reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."

KAFKA_VERSION=${TC_KAFKA_VERSION:-4.1.1}
LOG4J_VERSION=2.24.3
CACHE=${TC_CACHE_DIR:-$HOME/.cache/tidecast}
KDIR=$CACHE/kafka-$KAFKA_VERSION
SDIR=${TC_SERVERS_DIR:-$PWD/build/servers}
STATE=$SDIR/env

say() { echo "servers: $*" >&2; }

# A port nobody listens on now. The kernel hands out an unused ephemeral port;
# the tiny window before our server binds it is acceptable for tests.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch_kafka() {
  [ -f "$KDIR/.complete" ] && return 0
  say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $KDIR"
  local t0=$SECONDS tmp
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tidecast.test</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  if ! mvn -B -q -f "$tmp/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
       -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2; rm -rf "$tmp"; return 1
  fi
  rm -rf "$KDIR"; mkdir -p "$KDIR"
  mv "$tmp/libs" "$KDIR/libs"; rm -rf "$tmp"
  touch "$KDIR/.complete"
  say "fetched in $((SECONDS - t0)) s"
}

write_log4j() {
  cat >"$1" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = info
logger.apache.name = org.apache.kafka
logger.apache.level = warn
EOF
}

start_kafka() {
  local bport=$1 cport=$2 d=$SDIR/kafka cp
  mkdir -p "$d/data"
  cp="$KDIR/libs/*"
  cat >"$d/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$d/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=2
num.network.threads=2
num.io.threads=2
EOF
  write_log4j "$d/log4j2.properties"
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
                   "-Dlog4j2.configurationFile=$d/log4j2.properties")
  local id
  id=$(java "${java_opts[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$d/format.log" | tail -n 1)
  java "${java_opts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$id" \
       -c "$d/server.properties" --ignore-formatted >>"$d/format.log" 2>&1 ||
    { say "kafka storage format failed:"; tail -n 20 "$d/format.log" >&2; return 1; }
  nohup java "${java_opts[@]}" -cp "$cp" kafka.Kafka "$d/server.properties" \
    >"$d/server.log" 2>&1 </dev/null &
  echo $! >"$d/pid"
}

start_redis() {
  local port=$1 d=$SDIR/redis
  mkdir -p "$d"
  nohup redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$d" --logfile "$d/server.log" --protected-mode yes </dev/null >/dev/null 2>&1 &
  echo $! >"$d/pid"
}

wait_ready() { # what, timeout s, test command...
  local what=$1 limit=$2; shift 2
  local t0=$SECONDS
  until "$@"; do
    if [ $((SECONDS - t0)) -ge "$limit" ]; then say "$what not ready after ${limit}s"; return 1; fi
    sleep 0.3
  done
  say "$what ready after $((SECONDS - t0)) s"
}

kafka_ready() {
  local pid; pid=$(cat "$SDIR/kafka/pid")
  kill -0 "$pid" 2>/dev/null || { say "kafka exited:"; tail -n 30 "$SDIR/kafka/server.log" >&2; return 2; }
  port_open "$KPORT" && grep -q "Kafka Server started" "$SDIR/kafka/server.log"
}

redis_ready() { redis-cli -h 127.0.0.1 -p "$RPORT" ping 2>/dev/null | grep -q PONG; }

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

cmd_up() {
  if [ -f "$STATE" ] && running "$SDIR/kafka/pid" && running "$SDIR/redis/pid"; then
    say "already running ($STATE)"; return 0
  fi
  cmd_down 2>/dev/null || true
  fetch_kafka
  rm -rf "$SDIR"; mkdir -p "$SDIR"
  KPORT=$(free_port); CPORT=$(free_port); RPORT=$(free_port)
  while [ "$CPORT" = "$KPORT" ]; do CPORT=$(free_port); done
  start_redis "$RPORT"
  start_kafka "$KPORT" "$CPORT"
  cat >"$STATE" <<EOF
export TC_KAFKA_BROKERS=127.0.0.1:$KPORT
export TC_REDIS_HOST=127.0.0.1
export TC_REDIS_PORT=$RPORT
export TC_SERVERS_DIR=$SDIR
EOF
  local rc=0
  wait_ready redis 20 redis_ready || rc=1
  wait_ready kafka "${TC_KAFKA_START_TIMEOUT:-120}" kafka_ready || rc=1
  if [ $rc -ne 0 ]; then
    say "start failed; logs in $SDIR"; tail -n 40 "$SDIR/kafka/server.log" >&2 || true
    cmd_down; return 1
  fi
  say "kafka 127.0.0.1:$KPORT, redis 127.0.0.1:$RPORT (state $STATE)"
}

stop_pid() { # pidfile, name
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { say "$2 did not stop, killing"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$1"
}

cmd_down() {
  stop_pid "$SDIR/kafka/pid" kafka
  stop_pid "$SDIR/redis/pid" redis
  rm -f "$STATE"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) [ -f "$STATE" ] && cat "$STATE" || { say "not running"; exit 1; } ;;
  status) [ -f "$STATE" ] && cat "$STATE" && running "$SDIR/kafka/pid" && running "$SDIR/redis/pid" ;;
  fetch) fetch_kafka ;;
  *) echo "usage: $0 up|down|env|status|fetch" >&2; exit 2 ;;
esac
