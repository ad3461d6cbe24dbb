/* errors.c — names for the codes the library returns. */
#include <string.h>

#include <pb/pool.h>

const char *pb_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case PB_ETASK:
        return "the task reported failure";
    case PB_EBROKEN:
        return "the worker died or the pool is broken";
    case PB_EKILLED:
        return "the task ran past its time limit and its worker was killed";
    case PB_EOF:
        return "no more items";
    case PB_ETIMEDOUT:
        return "timed out";
    case PB_ECANCELED:
        return "cancelled";
    case PB_ESHUTDOWN:
        return "the pool is shut down";
    case PB_ENOTSUP:
        return "not supported by this backend";
    case PB_EINVAL:
        return "invalid argument";
    case PB_ENOENT:
        return "not found";
    case PB_ENOMEM:
        return "out of memory";
    default:
        break;
    }
    if (code < 0 && code > -4096)
        return strerrordesc_np(-code) ? strerrordesc_np(-code) : "unknown error";
    return "unknown error";
}
