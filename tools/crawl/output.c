/*
 * tools/crawl/output.c: JSON lines with jansson (no hand-made escaping),
 * each line built whole and written with one write(2) under a lock, so
 * lines never interleave and a killed crawl leaves whole lines only.
 * Fetch times go into a histogram of 1 ms buckets (up to 60 s) for the
 * summary's percentiles.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define HIST_MS 60000

struct output {
    int fd;
    bool own_fd;
    pthread_mutex_t lock;
    /* guarded by: lock */
    struct output_stats s;
    uint32_t *hist;           /* [HIST_MS + 1] */
    long timed;
};

int output_open(struct output **out, const char *path)
{
    struct output *o = calloc(1, sizeof *o);
    if (o == NULL)
        return -ENOMEM;
    o->hist = calloc(HIST_MS + 1, sizeof *o->hist);
    if (o->hist == NULL) {
        free(o);
        return -ENOMEM;
    }
    if (strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
    } else {
        o->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (o->fd < 0) {
            int e = errno;
            free(o->hist);
            free(o);
            return -e;
        }
        o->own_fd = true;
    }
    pthread_mutex_init(&o->lock, NULL);
    *out = o;
    return 0;
}

void output_close(struct output *o)
{
    if (o == NULL)
        return;
    if (o->own_fd)
        close(o->fd);
    pthread_mutex_destroy(&o->lock);
    free(o->hist);
    free(o);
}

/* A JSON string of s; bytes that are not valid UTF-8 (a server's header,
   say) are written as %XX rather than losing the field. */
static json_t *text(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    size_t n = strlen(s);
    char *t = malloc(n * 3 + 1), *o = t;
    if (t == NULL)
        return json_null();
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x80) {
            *o++ = (char)ch;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    j = json_string(t);
    free(t);
    return j != NULL ? j : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? text(s) : json_null();
}

static json_t *seconds(double s)
{
    return json_real((double)(int64_t)(s * 1e6 + 0.5) / 1e6); /* microseconds */
}

int output_record(struct output *o, const struct record *r)
{
    json_t *j = json_object();
    json_t *t = json_object();
    if (j == NULL || t == NULL) {
        json_decref(j);
        json_decref(t);
        return -ENOMEM;
    }
    json_object_set_new(j, "url", text(r->url));
    json_object_set_new(j, "final_url", text(r->final_url ? r->final_url : r->url));
    json_object_set_new(j, "status", json_integer(r->status));
    json_object_set_new(j, "content_type", str_or_null(r->content_type));
    json_object_set_new(j, "bytes_wire", json_integer((json_int_t)r->bytes_wire));
    json_object_set_new(j, "bytes_body", json_integer((json_int_t)r->bytes_body));
    json_object_set_new(j, "depth", json_integer(r->depth));
    json_object_set_new(j, "parent", str_or_null(r->parent));
    json_object_set_new(j, "retries", json_integer(r->retries));
    json_object_set_new(j, "redirects", json_integer(r->redirects));
    json_object_set_new(t, "dns", seconds(r->dns_s));
    json_object_set_new(t, "connect", seconds(r->connect_s));
    json_object_set_new(t, "ttfb", seconds(r->ttfb_s));
    json_object_set_new(t, "total", seconds(r->total_s));
    json_object_set_new(j, "timings", t);
    json_object_set_new(j, "error", str_or_null(r->error));
    char *line = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    if (line == NULL)
        return -ENOMEM;
    size_t n = strlen(line);
    char *buf = realloc(line, n + 2); /* room for the newline */
    if (buf == NULL) {
        free(line);
        return -ENOMEM;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    int rc = 0;
    pthread_mutex_lock(&o->lock);
    const char *p = buf;
    size_t left = n + 1;
    while (left > 0) {
        ssize_t w = write(o->fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    o->s.pages++;
    if (r->error != NULL)
        o->s.errors++;
    o->s.bytes_wire += r->bytes_wire;
    o->s.bytes_body += r->bytes_body;
    long k = r->status >= 100 && r->status < 600 ? r->status / 100 : 0;
    o->s.status_count[k]++;
    if (r->status > 0) {
        long ms = (long)(r->total_s * 1000 + 0.5);
        o->hist[ms > HIST_MS ? HIST_MS : ms]++;
        o->timed++;
    }
    pthread_mutex_unlock(&o->lock);
    free(buf);
    return rc;
}

void output_count_retry(struct output *o)
{
    pthread_mutex_lock(&o->lock);
    o->s.retries++;
    pthread_mutex_unlock(&o->lock);
}

static double percentile(const uint32_t *hist, long total, double q)
{
    if (total == 0)
        return 0;
    long want = (long)(q * (double)total + 0.5), seen = 0;
    if (want < 1)
        want = 1;
    for (long i = 0; i <= HIST_MS; i++) {
        seen += hist[i];
        if (seen >= want)
            return (double)i;
    }
    return HIST_MS;
}

void output_stats(struct output *o, struct output_stats *s)
{
    pthread_mutex_lock(&o->lock);
    *s = o->s;
    s->p50_ms = percentile(o->hist, o->timed, 0.50);
    s->p95_ms = percentile(o->hist, o->timed, 0.95);
    pthread_mutex_unlock(&o->lock);
}
