#!/bin/sh
# The image's entrypoint: SERVICE_ROLE (or the first argument) picks what this container is (seed 001 §2.1).
#   api | worker | relay | webhooks | smtp | registry | all   -> iep run --role ROLE
#   migrate                                                  -> iep db upgrade, then exit
#   anything else                                            -> run as a command (e.g. `iep tenants list`)
set -eu
role=$(printf '%s' "${SERVICE_ROLE:-${1:-}}" | tr '[:upper:]' '[:lower:]')
case "$role" in
  api|worker|relay|webhooks|smtp|registry|all)
    export SERVICE_ROLE="$role"
    exec iep run --role "$role" ;;
  migrate)
    exec iep db upgrade ;;
  dev)
    echo "SERVICE_ROLE=dev is for a developer's machine (make dev), not for this image" >&2
    exit 64 ;;
  "")
    echo "set SERVICE_ROLE to one of api, worker, relay, webhooks, smtp, registry, all, migrate" >&2
    exit 64 ;;
  *)
    if [ -n "${SERVICE_ROLE:-}" ]; then
      echo "unknown SERVICE_ROLE '$SERVICE_ROLE': one of api, worker, relay, webhooks, smtp, registry, all, migrate" >&2
      exit 64
    fi
    exec "$@" ;;
esac
