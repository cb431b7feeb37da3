#include "issuerhook/timefmt.h"

#include <stdio.h>
#include <time.h>

void timefmt_rfc3339_ms(int64_t ms, char out[TIMEFMT_LEN])
{
    int64_t secs = ms / 1000 - (ms % 1000 < 0); /* floor, also before 1970 */
    ms -= secs * 1000;
    time_t s = (time_t)secs;
    struct tm tm;
    gmtime_r(&s, &tm);
    /* four-digit years always (strftime's %Y gives "1" for year 1) */
    int y = tm.tm_year + 1900;
    unsigned year = y < 0 ? 0 : y > 9999 ? 9999 : (unsigned)y;
    snprintf(out, TIMEFMT_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", year, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)(ms % 1000) % 1000u);
}

int64_t timefmt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n digits at s[*i] into *v. */
static bool num(const char *s, size_t len, size_t *i, size_t n, int *v)
{
    if (*i + n > len)
        return false;
    int x = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[*i + k];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *i += n;
    *v = x;
    return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool parse(const char *s, size_t len, bool utc_only, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int y, mo, d, h, mi, se, frac = 0;
    if (!num(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !num(s, len, &i, 2, &mo) ||
        !expect(s, len, &i, '-') || !num(s, len, &i, 2, &d) || !(expect(s, len, &i, 'T') || expect(s, len, &i, 't')) ||
        !num(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !num(s, len, &i, 2, &mi) ||
        !expect(s, len, &i, ':') || !num(s, len, &i, 2, &se))
        return false;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i, nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 3)
                frac = frac * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (i == start || nd > 9)
            return false;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    int offset_min = 0;
    if (expect(s, len, &i, 'Z') || expect(s, len, &i, 'z')) { /* RFC 3339 5.6 allows lower case */
    } else if (!utc_only && i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om;
        if (!num(s, len, &i, 2, &oh) || !expect(s, len, &i, ':') || !num(s, len, &i, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (i != len)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || se > 60)
        return false;
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - offset_min) * 60000 + (int64_t)(se > 59 ? 59 : se) * 1000 +
          frac;
    return true;
}

bool timefmt_parse_rfc3339_utc(const char *s, size_t len, int64_t *ms)
{
    return parse(s, len, true, ms);
}

bool timefmt_parse_rfc3339(const char *s, size_t len, int64_t *ms)
{
    return parse(s, len, false, ms);
}
