#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs them.
#   - system packages, with apt-get when missing: PostgreSQL + PostGIS (the STAC API server's
#     database), Chromium (web-map tests), gdal-bin (ogrinfo/ogr2ogr read our exports) and
#     fonts-noto-cjk (Japanese text in browser screenshots and portal plots);
#   - a virtual environment .venv with geosurvey and its test extras;
#   - ruff, then pytest (extra arguments are passed to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/postgres" ] || need+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ogr2ogr >/dev/null 2>&1 || need+=(gdal-bin)  # GDAL's own tools check our outputs
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)  # Japanese in screenshots and plots
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
