#!/bin/sh
# Docker's HEALTHCHECK: the role's /health (liveness). The API answers on PORT; every other role on METRICS_PORT.
role=$(printf '%s' "${SERVICE_ROLE:-all}" | tr '[:upper:]' '[:lower:]')
case "$role" in
  api|all) port="${PORT:-8000}" ;;
  migrate) exit 0 ;;
  *) port="${METRICS_PORT:-9464}" ;;
esac
exec python3 -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=3).status != 200)"
