#!/bin/sh
# Storefront container start: writes /config.json and the nginx configuration from the
# environment, then runs nginx in the foreground. One image serves every store.
#
#   STORE_NAME              the store's name shown in the shop            (default: Store)
#   MEDUSA_UPSTREAM         where nginx proxies /store/*, e.g. http://medusa:9000   (required)
#   MEDUSA_BACKEND_URL      Store API base URL for the browser; empty = same origin (default)
#   MEDUSA_PUBLISHABLE_KEY  pk_... sent as x-publishable-api-key; empty = none (default)
#   STOREFRONT_PORT         listening port (default: 8080)
# For tests outside the image: STOREFRONT_RUNTIME_DIR, STOREFRONT_HTML_DIR,
# STOREFRONT_TEMPLATE_DIR, STOREFRONT_MIME_TYPES.
set -eu

RUNTIME_DIR="${STOREFRONT_RUNTIME_DIR:-/tmp/storefront}"
HTML_DIR="${STOREFRONT_HTML_DIR:-/usr/share/nginx/html}"
TEMPLATE_DIR="${STOREFRONT_TEMPLATE_DIR:-/etc/storefront}"
MIME_TYPES="${STOREFRONT_MIME_TYPES:-/etc/nginx/mime.types}"
PORT="${STOREFRONT_PORT:-8080}"
STORE_NAME="${STORE_NAME:-}"
MEDUSA_UPSTREAM="${MEDUSA_UPSTREAM:-}"
MEDUSA_BACKEND_URL="${MEDUSA_BACKEND_URL:-}"
MEDUSA_PUBLISHABLE_KEY="${MEDUSA_PUBLISHABLE_KEY:-}"

die() {
    echo "storefront: $*" >&2
    exit 1
}

if [ -z "$STORE_NAME" ]; then
    echo "storefront: STORE_NAME is not set; using \"Store\"" >&2
    STORE_NAME="Store"
fi

# MEDUSA_UPSTREAM goes into nginx's proxy_pass: scheme://host[:port] only, so that the request
# path reaches Medusa unchanged, and no character that could alter the configuration.
[ -n "$MEDUSA_UPSTREAM" ] || die "MEDUSA_UPSTREAM must be set, e.g. http://medusa:9000"
MEDUSA_UPSTREAM="${MEDUSA_UPSTREAM%/}"
case "$MEDUSA_UPSTREAM" in
    http://* | https://*) ;;
    *) die "MEDUSA_UPSTREAM must start with http:// or https:// (got: $MEDUSA_UPSTREAM)" ;;
esac
case "${MEDUSA_UPSTREAM#*://}" in
    "" | */* | *[!A-Za-z0-9.:_\[\]-]*) die "MEDUSA_UPSTREAM must be scheme://host[:port] without a path (got: $MEDUSA_UPSTREAM)" ;;
esac

case "$MEDUSA_BACKEND_URL" in
    "") ;;
    http://* | https://*)
        case "$MEDUSA_BACKEND_URL" in
            *[\"\\\ ]*) die "MEDUSA_BACKEND_URL contains a quote, backslash or space" ;;
        esac
        MEDUSA_BACKEND_URL="${MEDUSA_BACKEND_URL%/}"
        ;;
    *) die "MEDUSA_BACKEND_URL must be empty (same origin) or an http(s) URL" ;;
esac

case "$MEDUSA_PUBLISHABLE_KEY" in
    "") ;;
    pk_*)
        case "${MEDUSA_PUBLISHABLE_KEY#pk_}" in
            "" | *[!A-Za-z0-9]*) die "MEDUSA_PUBLISHABLE_KEY must look like pk_ followed by letters and digits" ;;
        esac
        ;;
    *) die "MEDUSA_PUBLISHABLE_KEY must be empty or start with pk_" ;;
esac

case "$PORT" in
    "" | *[!0-9]*) die "STOREFRONT_PORT must be a number" ;;
esac

# JSON string escaping: backslash and double quote escaped, control characters dropped.
json_string() {
    printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

mkdir -p "$RUNTIME_DIR"
printf '{"storeName":"%s","backendUrl":"%s","publishableKey":"%s"}\n' \
    "$(json_string "$STORE_NAME")" "$MEDUSA_BACKEND_URL" "$MEDUSA_PUBLISHABLE_KEY" \
    > "$RUNTIME_DIR/config.json.tmp"
mv "$RUNTIME_DIR/config.json.tmp" "$RUNTIME_DIR/config.json"

render() {
    sed -e "s|@RUNTIME_DIR@|$RUNTIME_DIR|g" \
        -e "s|@HTML_DIR@|$HTML_DIR|g" \
        -e "s|@MIME_TYPES@|$MIME_TYPES|g" \
        -e "s|@PORT@|$PORT|g" \
        -e "s|@MEDUSA_UPSTREAM@|$MEDUSA_UPSTREAM|g" \
        "$1" > "$2"
}
render "$TEMPLATE_DIR/nginx.conf.template" "$RUNTIME_DIR/nginx.conf"
render "$TEMPLATE_DIR/site.conf.template" "$RUNTIME_DIR/site.conf"

echo "storefront: \"$STORE_NAME\" on port $PORT, /store/ -> $MEDUSA_UPSTREAM" >&2
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
exec nginx -c "$RUNTIME_DIR/nginx.conf" -g "daemon off;"
