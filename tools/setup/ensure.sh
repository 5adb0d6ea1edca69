#!/usr/bin/env bash
# Everything `npm start` and `npm test` need on a fresh Debian machine, run as root: OS packages
# (only those missing), npm packages (only when the lockfile changed), then a build of every
# project (nx caches what did not change). Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_SKIP_NX_CACHE=${NX_SKIP_NX_CACHE:-} DEBIAN_FRONTEND=noninteractive

have() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

pkgs=()
have runc || pkgs+=(runc)
have redis-server || pkgs+=(redis-server)
installed busybox-static || pkgs+=(busybox-static)
have ip || pkgs+=(iproute2)
have iptables || pkgs+=(iptables)
have nft || pkgs+=(nftables)
have tini || pkgs+=(tini)
have docker-registry || pkgs+=(docker-registry)
# htpasswd -B makes the bcrypt password file the registry tests log in against.
have htpasswd || pkgs+=(apache2-utils)
have tar || pkgs+=(tar)
# tmux is the real terminal the -it tests type into.
have tmux || pkgs+=(tmux)
# The docker CLI is the client the tests drive; Debian's docker.io carries one if it is missing.
have docker || pkgs+=(docker.io)
# Monitors and runtimes behind the shim and runtime contracts: conmon, and crun beside runc.
have conmon || pkgs+=(conmon)
have crun || pkgs+=(crun)
# The real clients the tests drive Berth with: docker-py (Debian's, for /usr/bin/python3), pytest,
# docker-compose 1.29.
installed python3-docker || pkgs+=(python3-docker)
installed python3-pytest || pkgs+=(python3-pytest)
have docker-compose || pkgs+=(docker-compose)
# Prometheus' own text parser (its Python client) checks the metrics endpoint's output.
installed python3-prometheus-client || pkgs+=(python3-prometheus-client)
# Compressed archives (load, import, cp, build contexts) are decompressed by the OS's tools.
have xz || pkgs+=(xz-utils)
have bzip2 || pkgs+=(bzip2)
have zstd || pkgs+=(zstd)
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "berth setup: missing OS packages (${pkgs[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "berth setup: installing ${pkgs[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` rather than `npm ci`: the registry here lacks other platforms' optional
  # binaries (e.g. @bufbuild/buf-darwin-*), which `npm ci` insists on finding in the lockfile.
  # It still installs the locked versions.
  echo "berth setup: npm install"
  npm install --no-audit --no-fund --loglevel=error
fi

npx --no-install nx run-many -t build --outputStyle=static >/tmp/berth-build.$$.log 2>&1 || {
  cat /tmp/berth-build.$$.log >&2
  rm -f /tmp/berth-build.$$.log
  echo "berth setup: build failed" >&2
  exit 1
}
rm -f /tmp/berth-build.$$.log
