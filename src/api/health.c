/* GET /health, per the IETF health-check draft the Amiko seed cites
 * (application/health+json): a real query with its response time and whether the store
 * takes writes ("<backend>:responseTime"), free disk where the database lives (when it
 * is a local file), and whether the writer keeps up. 200 pass/warn, 503 fail. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/metrics.h"
#include "issuerhook/outbox.h"
#include "issuerhook/store.h"
#include "issuerhook/timefmt.h"
#include "issuerhook/request.h"
#include "issuerhook/version.h"
#include "issuerhook/writer.h"

#define WRITER_STALL_MS 10000
#define CALLBACK_OVERDUE_MS (5 * 60 * 1000)

enum hstatus { H_PASS, H_WARN, H_FAIL };
static const char *const hnames[] = {"pass", "warn", "fail"};

static json_t *check_entry(const char *type, double value, const char *unit, enum hstatus st, const char *when,
                           const char *output)
{
    json_t *e = json_pack("{s:s, s:f, s:s, s:s, s:s}", "componentType", type, "observedValue", value,
                          "observedUnit", unit, "status", hnames[st], "time", when);
    if (e && output)
        json_object_set_new(e, "output", json_string(output));
    return json_pack("[o]", e);
}

/* Free bytes under the database's folder. */
static bool disk_free(const char *db_path, double *bytes)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", db_path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0)
        return false;
    *bytes = (double)sv.f_bavail * (double)sv.f_frsize;
    return true;
}

void health_get(struct request *r, struct app *app)
{
    const struct config *cfg = app->cfg;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    enum hstatus overall = H_PASS;

    double ms = 0;
    char why[640];
    bool answered = store_ping(app->store, &ms) == IH_OK, writable = store_writable(app->store, why, sizeof(why));
    enum hstatus db_st = answered && writable ? H_PASS : H_FAIL;
    double free_bytes = 0;
    const char *disk = store_disk_path(app->store); /* NULL: not a local file, no disk check */
    enum hstatus disk_st = disk ? H_FAIL : H_PASS;
    bool measured = disk && disk_free(disk, &free_bytes);
    if (measured)
        disk_st = free_bytes < (double)cfg->disk_fail_bytes ? H_FAIL
                  : free_bytes < (double)cfg->disk_warn_bytes ? H_WARN : H_PASS;
    size_t depth = writer_queue_depth(app->writer);
    int64_t since = writer_now_ms() - writer_heartbeat_ms(app->writer);
    enum hstatus wr_st = depth > 0 && since > WRITER_STALL_MS ? H_FAIL
                         : depth * 2 > cfg->queue_max ? H_WARN : H_PASS;
    /* The callback backlog only warns: failing health would take the receiver out of
     * the load balancer and stop Amiko's events too. */
    struct outbox_stats ob;
    enum hstatus cb_st = H_PASS;
    const char *cb_out = NULL;
    if (outbox_stats(app->store, &ob) != IH_OK) {
        cb_st = H_WARN;
        cb_out = "cannot read the callback outbox";
    } else if (ob.dead > 0) {
        cb_st = H_WARN;
        cb_out = "callbacks parked as dead: see GET /bookings/{id} and the log";
    } else if (ob.pending > 0 && !cfg->callback_url[0]) {
        cb_st = H_WARN;
        cb_out = "callbacks wait: ISSUERHOOK_AMIKO_CALLBACK_URL is not set";
    } else if (ob.pending > 0 && ob.next_due >= 0 && timefmt_now_ms() - ob.next_due > CALLBACK_OVERDUE_MS) {
        cb_st = H_WARN;
        cb_out = "callbacks overdue by more than 5 minutes";
    }
    enum hstatus all[] = {db_st, disk_st, wr_st, cb_st};
    for (size_t i = 0; i < 4; i++)
        if (all[i] > overall)
            overall = all[i];

    json_t *checks = json_object();
    char db_check[48];
    snprintf(db_check, sizeof(db_check), "%s:responseTime", store_backend_name(app->store));
    json_object_set_new(checks, db_check,
                        check_entry("datastore", ms, "ms", db_st, when,
                                    !writable ? why : !answered ? "the database did not answer" : NULL));
    if (disk)
        json_object_set_new(checks, "disk:free",
                            check_entry("system", free_bytes, "bytes", disk_st, when,
                                        !measured          ? "cannot measure free disk where the database lives"
                                        : disk_st == H_FAIL ? "free disk below ISSUERHOOK_DISK_FAIL"
                                        : disk_st == H_WARN ? "free disk below ISSUERHOOK_DISK_WARN" : NULL));
    json_object_set_new(checks, "writer:queue",
                        check_entry("component", (double)depth, "jobs", wr_st, when,
                                    wr_st == H_FAIL ? "the writer has not made progress" : NULL));
    json_t *cb = check_entry("component", (double)ob.pending, "callbacks", cb_st, when, cb_out);
    json_object_set_new(json_array_get(cb, 0), "dead", json_integer(ob.dead));
    json_object_set_new(checks, "callback:backlog", cb);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:o}", "status", hnames[overall], "version", "1", "releaseId",
                             ISSUERHOOK_VERSION, "serviceId", "issuerhookd", "checks", checks);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        request_reply(r, 503, "application/health+json", strdup("{\"status\":\"fail\"}"), 17);
        return;
    }
    request_reply(r, overall == H_FAIL ? 503 : 200, "application/health+json", text, strlen(text));
}

void metrics_get_route(struct request *r, struct app *app)
{
    (void)app;
    char *text;
    size_t len;
    if (metrics_render(&text, &len) != IH_OK) {
        request_reply(r, 503, "text/plain", strdup("out of memory\n"), 14);
        return;
    }
    request_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
