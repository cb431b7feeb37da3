/* ih_bench_pgbatch: the PostgreSQL store's batch executor alone (src/store/pg/pgbatch.c), on
 * ih_put_record jobs of new events: for batch sizes 1, 16, 128 and 1,024, the wall time and
 * the client's CPU time per job, batches per second and round trips per batch. Not a test.
 *
 *   ih_bench_pgbatch [JOBS_PER_SIZE]      (default 20480)
 *
 * The database: IH_PG_CONNINFO (+ IH_PG_PASSWORD_FILE) when set, else a private throwaway
 * cluster (tests/kit/pgtmp.h) with fsync and synchronous_commit on, so every batch pays one
 * real WAL flush. The server shares the machine's cores with this process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "issuerhook/crypto.h"
#include "pgbatch.h"
#include "pgconn.h"
#include "pgmigrate.h"
#include "pgstmts.h"
#include "pgtmp.h"

#define PAYLOAD "{\"header\":{\"eventId\":\"%s\",\"eventType\":\"CASE_CREATED\"},\"event\":{\"caseId\":\"c-1\"}}"

struct job {
    char key[48], payload[160], received[24];
    unsigned char hash[CRYPTO_SHA256_LEN];
    const char *values[PGSTMTS_PUT_RECORD_NPARAMS];
    int lengths[PGSTMTS_PUT_RECORD_NPARAMS], formats[PGSTMTS_PUT_RECORD_NPARAMS];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void job_make(struct job *j, struct pgbatch_call *call, size_t n, long long serial)
{
    snprintf(j->key, sizeof(j->key), "bench-%zu-%lld", n, serial);
    snprintf(j->payload, sizeof(j->payload), PAYLOAD, j->key);
    snprintf(j->received, sizeof(j->received), "%lld", 1700000000000LL + serial);
    crypto_sha256(j->payload, strlen(j->payload), j->hash);
    const char *v[PGSTMTS_PUT_RECORD_NPARAMS] = {"amiko.event", j->key, (const char *)j->hash, "CASE_CREATED",
                                                 "bench-tracing", j->received, NULL, j->payload, "200",
                                                 "{\"ok\":true}", NULL, NULL, NULL};
    memcpy(j->values, v, sizeof(v));
    memset(j->lengths, 0, sizeof(j->lengths));
    memset(j->formats, 0, sizeof(j->formats));
    j->lengths[2] = CRYPTO_SHA256_LEN;
    j->formats[2] = 1;
    memset(call, 0, sizeof(*call));
    call->stmt = &pgstmts_put_record;
    call->nparams = PGSTMTS_PUT_RECORD_NPARAMS;
    call->values = j->values;
    call->lengths = j->lengths;
    call->formats = j->formats;
}

/* total jobs in batches of n; prints one line. */
static int run_size(struct pgconn *c, size_t n, size_t total)
{
    struct job *jobs = calloc(n, sizeof(*jobs));
    struct pgbatch_call *calls = calloc(n, sizeof(*calls));
    if (!jobs || !calls)
        return -1;
    size_t batches = total / n ? total / n : 1;
    unsigned long long trips0 = pgbatch_round_trips_total(), reruns0 = pgbatch_reruns_total();
    static long long serial;
    double wall = 0, cpu0 = cpu_s();
    int rc = 0;
    for (size_t b = 0; b < batches && rc == 0; b++) {
        for (size_t i = 0; i < n; i++)
            job_make(&jobs[i], &calls[i], n, serial++);
        double t0 = now_s();
        if (pgbatch_run(c, calls, n, NULL) != IH_OK)
            rc = -1;
        wall += now_s() - t0;
        for (size_t i = 0; i < n; i++) {
            if (calls[i].status != PGBATCH_OK)
                rc = -1;
            pgbatch_call_clear(&calls[i]);
        }
    }
    double cpu = cpu_s() - cpu0, jobs_done = (double)(batches * n);
    printf("%6zu %8zu %12.1f %12.1f %12.0f %12.0f %10.2f %7llu\n", n, batches, wall * 1e6 / jobs_done,
           cpu * 1e6 / jobs_done, jobs_done / wall, (double)batches / wall,
           (double)(pgbatch_round_trips_total() - trips0) / (double)batches, pgbatch_reruns_total() - reruns0);
    free(jobs);
    free(calls);
    return rc;
}

int main(int argc, char **argv)
{
    size_t total = argc > 1 ? strtoul(argv[1], NULL, 10) : 20480;
    struct pgtmp pg = {0};
    const char *ci = getenv("IH_PG_CONNINFO"), *pw = getenv("IH_PG_PASSWORD_FILE");
    if (!ci) {
        if (pgtmp_start_private(&pg) != 0)
            return 1;
        ci = pg.conninfo;
        pw = pg.password_file;
    }
    struct pgconn_options o = {.conninfo = ci, .password_file = pw, .busy_timeout_ms = 5000, .name = "bench"};
    struct pgconn *c = NULL;
    char err[512];
    int from, to, rc = 1;
    if (pgconn_new(&o, &c, err, sizeof(err)) != IH_OK || pgconn_open(c, err, sizeof(err)) != IH_OK ||
        pgmigrate_apply(c, &from, &to, err, sizeof(err)) != IH_OK) {
        fprintf(stderr, "ih_bench_pgbatch: %s\n", err);
        goto done;
    }
    printf("ih_bench_pgbatch: %zu new events per batch size, %s\n", total, pgconn_display(c));
    printf("%6s %8s %12s %12s %12s %12s %10s %7s\n", "N", "batches", "us/job", "cpu us/job", "jobs/s",
           "batches/s", "trips/bat", "reruns");
    rc = 0;
    static const size_t sizes[] = {1, 16, 128, 1024};
    for (size_t i = 0; i < 4 && rc == 0; i++)
        rc = run_size(c, sizes[i], sizes[i] == 1 ? total / 8 : total) ? 1 : 0;
done:
    pgconn_free(c);
    if (pg.own)
        pgtmp_stop(&pg);
    return rc;
}
