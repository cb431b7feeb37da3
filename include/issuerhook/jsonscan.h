/* One member read out of JSON text without parsing the rest. The feed takes primaryId
 * and institutionId out of every stored payload it serves, payloads of up to megabytes,
 * and a full parse costs 17-63 ms per 2 MiB (jansson has no lazy or partial parse), so
 * this small scanner is written by hand. It expects valid JSON (the store's canonical
 * payloads are) and answers "absent" for anything else it meets on its way. */
#ifndef ISSUERHOOK_JSONSCAN_H
#define ISSUERHOOK_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* The value at pointer in text[0..len): a JSON Pointer of plain member names ("/a/b",
 * no array indexes, no ~ escapes; at most 8 members). *at points into text at the
 * value's first byte, *at_len its length (a string with its quotes). false: absent. */
bool jsonscan_pointer(const char *text, size_t len, const char *pointer, const char **at, size_t *at_len);

/* The string at pointer: *s the bytes between its quotes, as written (escapes not
 * decoded), *n their count. false: absent or not a string. */
bool jsonscan_string(const char *text, size_t len, const char *pointer, const char **s, size_t *n);

#endif
