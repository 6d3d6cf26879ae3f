/** @file
 * eddy.h: the whole public API of eddy, a multi-reactor work-stealing async
 * runtime for C. See docs/guide.md.
 */
#ifndef EDDY_H
#define EDDY_H

#include <eddy/common.h>
#include <eddy/version.h>
#include <eddy/rt.h>
#include <eddy/sync.h>
#include <eddy/scope.h>
#include <eddy/select.h>
#include <eddy/io.h>
#include <eddy/http.h>

#endif /* EDDY_H */
