#!/usr/bin/env bash
# Installs what the tests need into .venv, then runs lint, format check, type check and the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# The browser tests (tests/browser) drive Debian's Chromium: Playwright's own browser download
# does not work here. The console's chart library (uPlot) comes from npm at the locked version.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed (apt-get install chromium): the browser tests will skip" >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --silent
else
  echo "npm is not installed: the console's chart library is absent, the page says so" >&2
fi
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
