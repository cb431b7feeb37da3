/* Prints the daemon's route table, one "METHOD PATTERN" line per entry, for
 * check_routes.sh to compare with the paths and methods of the OpenAPI files. */
#include <stdio.h>

#include "issuerhook/api.h"

int main(void)
{
    for (size_t i = 0; i < api_routes_count; i++) {
        const struct route *r = &api_routes[i];
        if (!r->method || !r->pattern) {
            fprintf(stderr, "routes_dump: entry %zu of api_routes has no method or pattern\n", i);
            return 1;
        }
        if (printf("%s %s\n", r->method, r->pattern) < 0)
            return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
