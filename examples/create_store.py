#!/usr/bin/env python3
"""Create a store through the storeflow API and follow its provisioning live.

    python3 examples/create_store.py --email you@example.com --password '...' \
        --name my-shop --engine woocommerce [--theme astra] [--api http://localhost:3001]

Signs in (or registers the account when it does not exist yet, with --register), creates the
store with an Idempotency-Key (so running the same command again after a network error never
creates a second store), then reads the store's Server-Sent Events stream and prints each step
as it starts, waits, retries, fails or succeeds, resuming after the last event if the
connection drops, until the store is ready or failed. Exit status: 0 ready, 1 failed or an API
error, 2 bad usage. Only the Python standard library is used.
"""

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request


class ApiError(Exception):
    def __init__(self, status, body):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code = error.get("code", "HTTP_%d" % status)
        message = error.get("message", "the API answered %d" % status)
        suggestion = error.get("suggestion")
        details = error.get("details")
        text = "%s (%s)" % (message, self.code)
        if details:
            text += ": " + "; ".join(
                "%s: %s" % (d.get("field", "?"), d.get("message", "")) for d in details if isinstance(d, dict)
            )
        if suggestion:
            text += " - " + suggestion
        super().__init__(text)


def call(api, method, path, token=None, body=None, headers=None):
    request = urllib.request.Request(api + path, method=method)
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            payload = json.loads(err.read() or b"null")
        except ValueError:
            payload = None
        raise ApiError(err.code, payload) from None


def sign_in(api, email, password, register, username):
    try:
        return call(api, "POST", "/api/v1/auth/login", body={"email": email, "password": password})["token"]
    except ApiError as err:
        if err.status != 401 or not register:
            raise
    body = {"email": email, "username": username or email.split("@")[0], "password": password}
    reply = call(api, "POST", "/api/v1/auth/register", body=body)
    if reply["user"]["role"] == "admin":
        print("registered %s: the first user, so the platform's admin" % email)
    return reply["token"]


def events(api, token, store_id, after):
    """Yields (id, kind, data) from the store's event stream, resuming after `after`."""
    request = urllib.request.Request(api + "/api/v1/stores/%s/events/stream" % store_id)
    request.add_header("Authorization", "Bearer " + token)
    request.add_header("Accept", "text/event-stream")
    if after:
        request.add_header("Last-Event-ID", str(after))
    with urllib.request.urlopen(request, timeout=90) as response:
        if response.status == 204:
            return
        event = {}
        for raw in response:
            line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
            if not line:
                if "data" in event:
                    yield int(event.get("id", 0)), event.get("event", "message"), json.loads(event["data"])
                event = {}
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                event[field] = value[1:] if value.startswith(" ") else value


def describe(kind, data):
    step = data.get("step_name") or "run"
    extra = data.get("data") or {}
    if kind == "step_started":
        return "%-24s started (attempt %s)" % (step, data.get("attempt"))
    if kind == "step_succeeded":
        return "%-24s done" % step
    if kind == "pending":
        return "%-24s waiting: %s" % (step, extra.get("waiting_for") or "rechecking")
    if kind == "step_failed":
        again = " (will retry)" if extra.get("will_retry") else ""
        return "%-24s failed%s: %s" % (step, again, extra.get("error", ""))
    if kind == "retry_scheduled":
        return "%-24s next attempt at %s" % (step, extra.get("at"))
    if kind == "finished":
        return "run finished: %s%s" % (extra.get("status"), (" - " + extra["error"]) if extra.get("error") else "")
    return "%s%s" % (kind, (" (" + step + ")") if data.get("step_name") else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://localhost:3001")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--register", action="store_true", help="register the account if it does not exist")
    parser.add_argument("--username")
    parser.add_argument("--name", required=True, help="store name: a DNS label, 3-63 characters")
    parser.add_argument("--engine", required=True, choices=["woocommerce", "medusa"])
    parser.add_argument("--theme", choices=["storefront", "astra"])
    parser.add_argument("--store-password", help="the store admin's password (generated when omitted)")
    args = parser.parse_args()
    api = args.api.rstrip("/")
    try:
        token = sign_in(api, args.email, args.password, args.register, args.username)
        body = {"name": args.name, "engine": args.engine}
        if args.theme:
            body["theme"] = args.theme
        if args.store_password:
            body["password"] = args.store_password
        # The same request always carries the same key: a repeat returns the first store.
        key = hashlib.sha256(json.dumps([args.email, body], sort_keys=True).encode()).hexdigest()[:32]
        created = call(api, "POST", "/api/v1/stores", token, body, {"Idempotency-Key": key})
        store = created["store"]
        print("store %s (%s): %s, run %s" % (store["id"], store["name"], store["status"], created["run"]["id"]))
        last = 0
        while True:
            try:
                for event_id, kind, data in events(api, token, store["id"], last):
                    last = event_id
                    print("  " + describe(kind, data))
                    if kind == "finished":
                        break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                print("  (stream interrupted: %s; resuming after event %d)" % (err, last))
                time.sleep(1)
            store = call(api, "GET", "/api/v1/stores/%s" % store["id"], token)["store"]
            if store["status"] == "ready":
                print("ready: %s (admin %s)" % (store["urls"]["storefront"], store["urls"]["admin"]))
                credentials = store.get("adminCredentials") or {}
                if credentials.get("password"):
                    print("admin login: %s / %s" % (credentials.get("username"), credentials.get("password")))
                return 0
            if store["status"] == "failed":
                print("failed at %s: %s" % (store.get("failedStep"), store.get("failureReason")))
                print("retry with: POST /api/v1/stores/%s/retry" % store["id"])
                return 1
    except ApiError as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    except urllib.error.URLError as err:
        print("error: cannot reach the API at %s (%s); is `storeflow up` running?" % (api, err.reason), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
