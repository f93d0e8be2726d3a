/* error.c - names and descriptions of the TC_E* codes of error.h. */
#include "error.h"

const char *tc_strerror(int code)
{
    switch (code) {
    case TC_OK:
        return "ok";
#define TC_X_(name, msg) \
    case TC_E##name:     \
        return msg;
        TC_ERRNO_MAP(TC_X_)
#undef TC_X_
    }
    return "unknown error";
}

const char *tc_errname(int code)
{
    switch (code) {
    case TC_OK:
        return "TC_OK";
#define TC_X_(name, msg) \
    case TC_E##name:     \
        return "TC_E" #name;
        TC_ERRNO_MAP(TC_X_)
#undef TC_X_
    }
    return "TC_E?";
}

bool tc_error_retriable(int code)
{
    return code == TC_EAGAIN || code == TC_ETIMEOUT || code == TC_EFULL ||
           code == TC_EBUSY || code == TC_EIO;
}
