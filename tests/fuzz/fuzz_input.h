/* The fuzz entry shared by the libFuzzer binary and the replay runner (replay.c). */
#ifndef ISSUERHOOK_FUZZ_INPUT_H
#define ISSUERHOOK_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* The first byte of an input that selects something other than a request body. */
enum fuzz_mode {
    FUZZ_MODE_TEXT = 0x01,   /* query parameters, paths, string formats */
    FUZZ_MODE_TOKEN = 0x02,  /* a bearer token as received */
    FUZZ_MODE_SIGNED = 0x03, /* "header.payload", signed by the harness */
    FUZZ_MODE_ENVFILE = 0x04 /* a configuration file (systemd EnvironmentFile= syntax) */
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
