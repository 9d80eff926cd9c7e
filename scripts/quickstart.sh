#!/usr/bin/env bash
# The quick start: route53-registrator on this machine's Docker engine, against the project's Route53 emulator
# (started here, on 127.0.0.1), with no AWS account. Ctrl-C stops both.
#
#   scripts/quickstart.sh            # emulator on 127.0.0.1:4566 (PORT=... to change it)
#
# Then start a labelled container on the network it creates and watch its record appear:
#   docker run -d --rm --name web1 --network r53r-quickstart \
#     --label com.amazonaws.ecs.task-definition-family=web-service \
#     --label com.amazonaws.ecs.container-name=web route53-registrator-test:latest sleep 600
#   curl -s http://127.0.0.1:4566/_emulator/records
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT="${PORT:-4566}"
NETWORK=r53r-quickstart
STATE_DIR="$(pwd)/.test-env"

# A Docker engine that answers and the tiny test image (the same set-up the tests use).
scripts/test.sh --docker-only

printf '\n==> Building the daemon and the emulator\n'
printf '    The first build takes a few minutes on a fresh machine; cargo shows its progress below.\n'
cargo build -p route53-registrator -p route53-emulator

mkdir -p "$STATE_DIR"
printf '\n==> Starting the Route53 emulator on 127.0.0.1:%s\n' "$PORT"
target/debug/route53-emulator --port "$PORT" --zone service.discovery >"$STATE_DIR/emulator.out" \
    2>"$STATE_DIR/emulator.log" &
EMULATOR_PID=$!
trap 'kill "$EMULATOR_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q '^zone_id=' "$STATE_DIR/emulator.out" 2>/dev/null && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$STATE_DIR/emulator.log" >&2; exit 1; }
    sleep 0.1
done
ENDPOINT="$(sed -n 's/^endpoint=//p' "$STATE_DIR/emulator.out")"
ZONE_ID="$(sed -n 's/^zone_id=//p' "$STATE_DIR/emulator.out")"
[ -n "$ZONE_ID" ] || { echo "the emulator did not start (log: $STATE_DIR/emulator.log)" >&2; exit 1; }

docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null

cat <<TXT

==> Route53 emulator at $ENDPOINT, private zone service.discovery ($ZONE_ID)
    In another terminal, start a service container and look at the zone:

    docker run -d --rm --name web1 --network $NETWORK \\
      --label com.amazonaws.ecs.task-definition-family=web-service \\
      --label com.amazonaws.ecs.container-name=web route53-registrator-test:latest sleep 600
    curl -s $ENDPOINT/_emulator/records
    docker stop web1 && curl -s $ENDPOINT/_emulator/records

==> Running route53-registrator (Ctrl-C to stop)
TXT

# Static test credentials and the emulator's endpoint: nothing reaches AWS or the instance metadata service.
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$ENDPOINT" \
AWS_EC2_METADATA_DISABLED=true \
R53R_ROUTE53__ZONE_ID="$ZONE_ID" R53R_HOST__IP=127.0.0.1 R53R_HTTP__LISTEN=127.0.0.1:9753 \
    target/debug/route53-registrator --config config/route53-registrator.toml
