/*
 * http/response.h: building an eddy_http_response from what curl hands
 * over while a transfer runs (body chunks, header lines) and what it
 * reports at the end (status, URL, timings). Internal to http/.
 */
#ifndef EDDY_HTTP_RESPONSE_H
#define EDDY_HTTP_RESPONSE_H

#include <curl/curl.h>
#include <stdbool.h>

#include <eddy/http.h>

struct eddy__resp;

/* A response under construction; NULL on OOM. */
struct eddy__resp *eddy__resp_new(void);
/* Points easy's write, header and error-buffer options at r; a body over
   max_body bytes (0: no limit) stops the transfer (CURLE_WRITE_ERROR). */
void eddy__resp_attach(struct eddy__resp *r, CURL *easy, size_t max_body);
/* Whether the body went over its limit. */
bool eddy__resp_too_big(const struct eddy__resp *r);
/* Fills the public fields once the transfer ended with res (rc: the
   call's result; a transport failure leaves status 0). */
void eddy__resp_finish(struct eddy__resp *r, CURL *easy, CURLcode res, int rc);
/* The public view, freed with eddy_http_response_free. */
eddy_http_response *eddy__resp_public(struct eddy__resp *r);
/* Frees r (NULL: no-op). */
void eddy__resp_free(struct eddy__resp *r);

#endif
