/* The route table and the handlers behind it: one file per upstream API under
 * src/api/, each wiring route -> check -> map -> store -> dialect. */
#ifndef ISSUERHOOK_API_H
#define ISSUERHOOK_API_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/router.h"

/* The one route table (method, path, scope, dialect, handler). */
extern const struct route api_routes[];
extern const size_t api_routes_count;

/* Handlers */
void amiko_post_event(struct request *r, struct app *app);
void amiko_post_domain_event(struct request *r, struct app *app);
void booking_post(struct request *r, struct app *app);
void booking_post_result(struct request *r, struct app *app);
void booking_get(struct request *r, struct app *app);
void booking_list(struct request *r, struct app *app);
void card_activity_post(struct request *r, struct app *app);
void riverty_post_event(struct request *r, struct app *app);
void feed_recent(struct request *r, struct app *app);
void feed_history(struct request *r, struct app *app);
void feed_event_types(struct request *r, struct app *app);
void health_get(struct request *r, struct app *app);
void metrics_get_route(struct request *r, struct app *app);

/* Shared by the POST handlers: strict parse of the body; on failure answers 400 (503
 * when out of memory) in the route's dialect and returns NULL. Caller owns the result
 * and *nums, the numbers as the sender wrote them (jsonutil_numbers_free). */
struct json_t;
struct jsonutil_numbers;
struct json_t *api_parse_body(struct request *r, const struct app *app, enum dialect d, const char *route,
                              struct jsonutil_numbers **nums);

/* Masks the card numbers in every string of v (panscan.h), but in skip, members of v
 * itself; counts them in issuerhook_card_numbers_masked_total. Returns false when it
 * answered instead (400 when two member names mask alike, 503 out of memory). */
bool api_mask_card_numbers(struct request *r, const struct app *app, enum dialect d, const char *route,
                           struct json_t *v, const char *const *skip);

#endif
