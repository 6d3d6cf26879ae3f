/*
 * rt/error.c: eddy_strerror and the version queries.
 */
#include <eddy/common.h>
#include <eddy/version.h>

#include <stdio.h>
#include <string.h>

const char *eddy_strerror(int err)
{
    switch (err) {
    case EDDY_EAI_NONAME:
        return "Host name not known";
    case EDDY_EAI_AGAIN:
        return "Temporary failure in name resolution";
    case EDDY_EAI_FAIL:
        return "Non-recoverable failure in name resolution";
    default:
        break;
    }
    if (err >= 0)
        return "Success";
    if (err > -4096) {
        /* strerrorname_np would do, but strerror's text is what users expect;
           glibc's strerror returns static strings for known values. */
        const char *s = strerrordesc_np(-err);
        if (s != NULL)
            return s;
    }
    /* as glibc's strerror does for codes it does not know: the number, in
       a buffer of the calling thread's, valid until its next such call */
    static _Thread_local char unknown[32];
    snprintf(unknown, sizeof unknown, "Unknown error %d", err);
    return unknown;
}

unsigned eddy_version(void)
{
    return EDDY_VERSION_HEX;
}

const char *eddy_version_string(void)
{
    return EDDY_VERSION_STRING;
}
