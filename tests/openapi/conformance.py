#!/usr/bin/python3
"""Real answers against the contract (issue 11.7).

    conformance.py DAEMON OPENAPI_DIR FIXTURES_DIR

Starts DAEMON on a free loopback port with a temporary database and keys of every scope,
sends requests that draw every route's answers (successes, replays, 400 with many
violations, 401, 403, 404, 405, 409, 413, 415, 503 of a busy feed), and checks each JSON
answer against the schema the OpenAPI descriptions (openapi/*.yaml) give for its route,
status and media type: types, required members, lengths, patterns, enums. The openapi
files were checked by hand against the seeds (required fields, lengths, patterns); this
makes sure what the daemon sends is what they say. Fails listing every answer that does
not conform, and when a route or a status drew no answer. Debian's python3-jsonschema and
python3-yaml only (.ci/deps.sh).
"""
import glob
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import jsonschema
import yaml

ME = "openapi_conformance"


def die(msg):
    print(f"{ME}: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


if len(sys.argv) != 4:
    die("usage: conformance.py DAEMON OPENAPI_DIR FIXTURES_DIR")
DAEMON, OPENAPI, FIXTURES = sys.argv[1:4]

# ---- the contract ---------------------------------------------------------------------------

OPS = []  # (method, regex, template, document)
for path in sorted(glob.glob(os.path.join(OPENAPI, "*.yaml"))):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    doc["$id"] = "file://" + os.path.abspath(path)
    for template, item in (doc.get("paths") or {}).items():
        rx = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method, op in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                OPS.append((method.upper(), rx, template, doc, op))


def resolve(doc, node):
    """Follows $ref (local, '#/...') until a non-reference."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            die(f"non-local $ref {ref}")
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def schema_for(method, path, status, ctype):
    """(template, schema or None, why) for an answer."""
    for m, rx, template, doc, op in OPS:
        if m != method or not rx.match(path):
            continue
        responses = op.get("responses", {})
        resp = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        if resp is None:
            return template, None, f"status {status} is not described"
        resp = resolve(doc, resp)
        content = resp.get("content") or {}
        media = ctype.split(";")[0].strip() if ctype else ""
        if not content:
            return template, None, "" if not media else f"a body of {media} where none is described"
        if media not in content:
            return template, None, f"media type '{media}' is not described (only {', '.join(content)})"
        sch = content[media].get("schema")
        if sch is None:
            return template, None, ""
        # validate within the document, so that its '#/components/...' refs resolve
        return template, {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": doc["$id"],
                          "components": doc.get("components", {}), "allOf": [sch]}, ""
    # no route: 404 or 405, in the Apiture dialect (ledger-feed.yaml's shared answers)
    for m, rx, template, doc, op in OPS:
        if doc["$id"].endswith("/ledger-feed.yaml") and status in (404, 405):
            resp = resolve(doc, {"$ref": "#/components/responses/" + ("NotFound" if status == 404 else "MethodNotAllowed")})
            sch = resp["content"].get(ctype.split(";")[0].strip(), {}).get("schema")
            if sch is None:
                return "(no route)", None, f"media type '{ctype}' is not described for {status}"
            return "(no route)", {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": doc["$id"],
                                  "components": doc.get("components", {}), "allOf": [sch]}, ""
    return None, None, f"no operation {method} matches {path}"


# ---- the daemon -----------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


SECRET = {"all": "conf-key-all", "none": "conf-key-noscope"}
SCOPES = "amiko:events,amiko:bookings,ledger:read,ledger:write,cardAdapter/write,riverty:events,bankingAdmin/read"
TMP = tempfile.mkdtemp(prefix="ih-conformance.")
PORT = free_port()
env = {k: v for k, v in os.environ.items() if not k.startswith("ISSUERHOOK_")}
env.update({
    "ISSUERHOOK_LISTEN": f"127.0.0.1:{PORT}", "ISSUERHOOK_DB": os.path.join(TMP, "db", "c.db"),
    "ISSUERHOOK_RATE_LIMIT": "0", "ISSUERHOOK_MAX_BODY": "256KiB", "ISSUERHOOK_FEED_READS": "1",
    "ISSUERHOOK_FEED_PAGE_BYTES": "64MiB", "ISSUERHOOK_SHUTDOWN_GRACE": "2",
    "ISSUERHOOK_PAN_KEY_DEVELOPMENT": "true",
    "ISSUERHOOK_API_KEY_ALL": "sha256:" + hashlib.sha256(SECRET["all"].encode()).hexdigest() + " " + SCOPES,
    "ISSUERHOOK_API_KEY_NONE": "sha256:" + hashlib.sha256(SECRET["none"].encode()).hexdigest() + " ledger:read",
})
log = open(os.path.join(TMP, "daemon.log"), "wb")
proc = subprocess.Popen([DAEMON], env=env, stdout=log, stderr=subprocess.STDOUT)


def stop():
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    shutil.rmtree(TMP, ignore_errors=True)


def request(method, path, body=None, key="all", headers=None, raw=None):
    h = {"tracing-id": "conformance-" + uuid.uuid4().hex[:8]}
    if key:
        h["X-API-Key"] = SECRET[key]
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    data = raw if raw is not None else (json.dumps(body) if isinstance(body, (dict, list)) else body)
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = (r.status, r.getheader("Content-Type") or "", r.read())
    c.close()
    return out


try:
    for _ in range(100):
        try:
            if request("GET", "/health", key=None)[0] in (200, 503):
                break
        except OSError:
            time.sleep(0.1)
    else:
        die("the daemon did not answer /health")

    def fixture(name):
        with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
            return json.load(f)

    def amiko(kind, **event):
        b = fixture("amiko/valid/event_case_created.json" if kind == "v1" else
                    "amiko/valid/domain_event_case_created.json")
        b["header"]["eventId"] = str(uuid.uuid4())
        b["event"].update(event)
        return b

    ANSWERS = []  # (method, path, status, ctype, body)

    def send(method, path, **kw):
        st, ct, body = request(method, path, **kw)
        ANSWERS.append((method, path, st, ct, body))
        return st, ct, body

    # Amiko events and domain events
    ev = amiko("v1")
    send("POST", "/events", body=ev)
    send("POST", "/events", body=ev)                                  # replay
    send("POST", "/events", body=dict(ev, event=dict(ev["event"], caseId="other")))  # 409
    send("POST", "/events", body={"header": {"eventId": "x", "generatedAt": -1}, "event": {}})  # 400
    send("POST", "/events", body="{not json")
    send("POST", "/events", body=ev, key=None)                        # 401
    send("POST", "/events", body=ev, key="none")                      # 403
    send("POST", "/events", raw=json.dumps(ev), headers={"Content-Type": "text/plain"})  # 415
    send("POST", "/events", raw="[" + "1," * 200000 + "1]", headers={"Content-Type": "application/json"})  # 413
    send("POST", "/domain-events", body=amiko("v2"))
    send("POST", "/domain-events", body={"header": {}, "event": {"event_name": 7}})
    # bookings
    bk = fixture("booking/valid/seed-sample.json")
    bid = bk.get("amikoBookingId")
    send("POST", "/bookings", body=bk)
    send("POST", "/bookings", body={"amikoBookingId": 1, "bookingAmount": "x"})
    send("GET", "/bookings")
    send("GET", f"/bookings/{bid}")
    send("GET", f"/bookings/{uuid.uuid4()}")                          # 404
    send("POST", f"/bookings/{bid}/result", body={"status": "completed", "issuerBookingId": "L-1"})
    send("POST", f"/bookings/{bid}/result", body={"status": "nope"})
    # card activity: valid, and many violations at once
    send("POST", "/system/incomingCardActivity", body=fixture("card_activity/valid/seed-sample.json"))
    send("POST", "/system/incomingCardActivity", body=fixture("card_activity/invalid/several-violations.json"))
    many = fixture("card_activity/valid/seed-sample.json")
    many["items"] = [dict(it, pan="12", cardId="!", activityType="nope", occurredAt="yesterday",
                          reasonCode="?", location="moon") for it in many["items"] * 20][:40]
    send("POST", "/system/incomingCardActivity", body=many)
    send("POST", "/system/incomingCardActivity", body=many, key=None)
    # Riverty
    send("POST", "/api/v3/customer-account/ACC-CONF-1/event", body=fixture("riverty/valid/seed-sample.json"))
    send("POST", "/api/v3/customer-account/ACC-CONF-1/event", body={"eventType": "Nope", "items": [{}] * 3})
    send("POST", "/api/v3/customer-account/ACC-CONF-1/event", body={}, key=None)
    # the feed (one record whose tracing id breaks the seed's correlationId pattern)
    request("POST", "/events", body=amiko("v1"), headers={"tracing-id": "t!"})
    send("GET", "/banking/recentEventHistory")
    send("GET", "/banking/recentEventHistory?limit=0")
    send("GET", "/banking/recentEventHistory?watermark=bogus")
    send("GET", "/banking/recentEventHistory", key="none")
    send("GET", "/banking/eventHistory?occurredAt=%5B2000-01-01%2C2100-01-01%29&limit=2")
    send("GET", "/banking/eventHistory?sortBy=sideways")
    send("GET", "/banking/eventTypes")
    send("GET", "/banking/eventTypes", key=None)
    # a busy feed (ISSUERHOOK_FEED_READS=1): a page held open by a reader that takes nothing
    for _ in range(30):
        big = amiko("v1", note="x" * 200000)
        if request("POST", "/events", body=big)[0] != 200:
            die("could not store the filler events")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    s.connect(("127.0.0.1", PORT))
    s.sendall(f"GET /banking/recentEventHistory HTTP/1.1\r\nHost: x\r\nX-API-Key: {SECRET['all']}\r\n\r\n".encode())
    s.recv(1)
    send("GET", "/banking/recentEventHistory")                        # 503
    s.close()
    # health, unknown routes
    send("GET", "/health", key=None)
    send("GET", "/no/such/route")                                     # 404
    send("DELETE", "/events")                                         # 405

    # ---- judge ----------------------------------------------------------------------------
    problems, drawn = [], set()
    for method, path, st, ct, body in ANSWERS:
        template, sch, why = schema_for(method, path.split("?")[0], st, ct)
        drawn.add((method, template, st))
        where = f"{method} {path[:80]} -> {st} ({ct or 'no body'})"
        if why:
            problems.append(f"{where}: {why}")
            continue
        if sch is None:
            continue
        try:
            doc = json.loads(body)
        except ValueError:
            problems.append(f"{where}: the body is not JSON: {body[:120]!r}")
            continue
        v = jsonschema.Draft202012Validator(sch, format_checker=jsonschema.FormatChecker())
        for e in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            ptr = "/" + "/".join(str(p) for p in e.absolute_path)
            problems.append(f"{where}: at {ptr}: {e.message[:300]}")
    statuses = {(m, t, s) for m, t, s in drawn}
    want = {("POST", "/events", 409), ("POST", "/events", 413), ("POST", "/events", 415),
            ("POST", "/system/incomingCardActivity", 400), ("GET", "/banking/recentEventHistory", 503),
            ("GET", "/banking/eventTypes", 200), ("GET", "/health", 200)}
    for w in sorted(want - statuses):
        problems.append(f"{w[0]} {w[1]} never answered {w[2]} (the test did not draw it)")
    routes = {(m, t) for m, _, t, _, _ in OPS}
    for m, t in sorted(routes - {(m, t) for m, t, _ in drawn} - {("GET", "/metrics")}):
        problems.append(f"{m} {t}: no answer was checked")
    if problems:
        for p in problems:
            print(f"{ME}: {p}", file=sys.stderr)
        die(f"{len(problems)} answers differ from openapi/*.yaml (of {len(ANSWERS)} checked)")
    print(f"{ME}: {len(ANSWERS)} answers of {len(routes)} operations conform to openapi/*.yaml")
finally:
    stop()
