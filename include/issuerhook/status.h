/* One status type for the whole daemon. MHD_YES/MHD_NO and SQLite codes are
 * translated to it at the edge of the module that wraps them. */
#ifndef ISSUERHOOK_STATUS_H
#define ISSUERHOOK_STATUS_H

#define IH_MUST_CHECK __attribute__((warn_unused_result))

typedef enum ih_status {
    IH_OK = 0,
    IH_ENOMEM,     /* allocation failed: the request gets 503, the daemon keeps serving */
    IH_EINVAL,     /* malformed input or configuration */
    IH_ETOOBIG,    /* a bounded buffer would pass its ceiling */
    IH_EIO,        /* the store or the file system failed */
    IH_EBUSY,      /* the store is locked or the writer queue is full */
    IH_ECONFLICT,  /* same idempotency key, different payload */
    IH_ENOTFOUND,
    IH_ENEWER,     /* database schema newer than this binary */
    IH_ESHUTDOWN   /* the daemon is stopping */
} ih_status;

/* A short, static, lower-case description of rc. */
const char *ih_status_str(ih_status rc);

#endif
