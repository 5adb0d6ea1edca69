#!/usr/bin/env bash
# Installs every app from a dist/apps folder and enables the whole suite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dist=${1:-$here/../dist/apps}
for app in shim images snapshotter netproxy supervisor gateway; do
  "$here/install-app.sh" --no-restart "$app" "$dist/$app"
done
if [ "${NO_SYSTEMD:-0}" != 1 ]; then
  systemctl daemon-reload
  systemctl enable --now berth.target
fi
