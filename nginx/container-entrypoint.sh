#!/bin/sh
# Entrypoint of the nginx image (Dockerfile, stage nginx).
#
#   container-entrypoint.sh nginx -g 'daemon off;'   wait until nginx -t passes, then run nginx
#   container-entrypoint.sh healthcheck              exit 0 when the site answers /healthz
#
# nginx resolves its upstream names (the compose services daphne-1, daphne-2, http) once, when
# it starts, and refuses to start while one is unknown; a container's name resolves only once
# it runs. So nginx may be started first: it waits (NGINX_WAIT_TIMEOUT seconds, default 300)
# instead of exiting, and says what it waits for.
set -eu

if [ "${1:-}" = healthcheck ]; then
    # Through the site itself, TLS and Host included: proves nginx reaches the HTTP server.
    host="$(cat /etc/nginx/healthcheck-host)"
    exec curl --fail --silent --show-error --output /dev/null --max-time 4 --insecure \
        --resolve "$host:443:127.0.0.1" "https://$host/healthz"
fi

deadline=$(( $(date +%s) + ${NGINX_WAIT_TIMEOUT:-300} ))
said=""
while ! problem="$(nginx -t -q 2>&1)"; do
    if [ "$problem" != "$said" ]; then
        printf 'nginx: waiting until the configuration test passes: %s\n' "$problem" >&2
        said="$problem"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "nginx: gave up after ${NGINX_WAIT_TIMEOUT:-300} s; start the services it names above" >&2
        exit 1
    fi
    sleep 1
done
exec "$@"
