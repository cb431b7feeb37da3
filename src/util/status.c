#include "issuerhook/status.h"

const char *ih_status_str(ih_status rc)
{
    switch (rc) {
    case IH_OK: return "ok";
    case IH_ENOMEM: return "out of memory";
    case IH_EINVAL: return "invalid";
    case IH_ETOOBIG: return "too large";
    case IH_EIO: return "store or file system error";
    case IH_EBUSY: return "store busy";
    case IH_ECONFLICT: return "conflict";
    case IH_ENOTFOUND: return "not found";
    case IH_ENEWER: return "database is newer than this binary";
    case IH_ESHUTDOWN: return "shutting down";
    }
    return "unknown";
}
