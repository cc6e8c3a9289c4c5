#!/usr/bin/env bash
# Installs the system packages the local stack needs, from Debian's archive, if they are missing:
#   clickhouse-server (18.16 on Debian 12) and its client, a Java runtime and Maven (Kafka broker),
#   python3-venv where python3 cannot make a virtualenv;
#   with --test also Prometheus (promtool checks the alert rules), Alertmanager (the paging test),
#   Chromium, its driver and a CJK font (the gate board's browser test); with --cluster also
#   ZooKeeper (a replicated ClickHouse's coordinator: `make test-cluster`).
# Idempotent: prints one line and does nothing when everything is present. Needs root (or sudo).
set -euo pipefail

missing=()
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] \
  || command -v clickhouse >/dev/null 2>&1 || missing+=(clickhouse-server)
command -v clickhouse-client >/dev/null 2>&1 || missing+=(clickhouse-client)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the local stack's CA and broker certificate
# `make install` makes its virtualenv with `python3 -m venv`, which Debian's python3 cannot do
# without python3-venv (ensurepip is split out of it).
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${1:-}" = "--test" ]; then
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)  # 沪A plates
fi

if [ "${1:-}" = "--cluster" ]; then
  [ -e /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
fi

if [ ${#missing[@]} -eq 0 ]; then
  case "${1:-}" in
    --test) echo "system packages: all present (with the test tools)" ;;
    --cluster) echo "system packages: all present (with ZooKeeper)" ;;
    *) echo "system packages: all present" ;;
  esac
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "error: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "system packages: installing ${missing[*]} from Debian (apt-get)..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
