/*
 * tests/rt/select_checks.h: what test_select.c and test_select_stress.c
 * share: select cases whose result starts as a marker (a case that did not
 * complete must leave it), and channels of uint64_t elements.
 */
#ifndef EDDY_TESTS_RT_SELECT_CHECKS_H
#define EDDY_TESTS_RT_SELECT_CHECKS_H

#include <stdint.h>

#include <eddy/select.h>
#include <eddy/sync.h>

#include "tests/helpers.h"

static inline eddy_select_case recv_case(eddy_chan *c, void *elem)
{
    return (eddy_select_case){ .kind = EDDY_SEL_RECV, .obj = c, .elem = elem, .result = 12345 };
}

static inline eddy_select_case send_case(eddy_chan *c, void *elem)
{
    return (eddy_select_case){ .kind = EDDY_SEL_SEND, .obj = c, .elem = elem, .result = 12345 };
}

static inline eddy_chan *chan_new(size_t cap)
{
    eddy_chan *c = NULL;
    assert_ok(eddy_chan_new(&c, cap, sizeof(uint64_t)));
    return c;
}

#endif
