#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real, when they are missing.
# Says plainly what it could not install; the tests that need it then skip with the same reason.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -eq 0 ]; then
  echo "system-deps: chromium, prometheus-alertmanager and redis-server are present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: SKIPPED installing ${need[*]} (needs root and apt-get); tests that need them will skip"
  exit 0
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
  echo "system-deps: SKIPPED: apt-get could not install ${need[*]}; tests that need them will skip"
fi
exit 0
