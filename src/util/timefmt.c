#include "issuerhook/timefmt.h"

#include <stdio.h>
#include <time.h>

void timefmt_rfc3339_ms(int64_t ms, char out[TIMEFMT_LEN])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, TIMEFMT_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, TIMEFMT_LEN - n, ".%03dZ", (int)(ms % 1000));
}

int64_t timefmt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
