/*
 * tools/crawl/state.c: resuming a crawl (state.h).
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* Cuts path after its last newline (a line a kill cut short), if any. */
static int trim_torn_line(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    off_t size = lseek(fd, 0, SEEK_END), keep = size;
    char buf[4096];
    while (keep > 0) {
        off_t from = keep > (off_t)sizeof buf ? keep - (off_t)sizeof buf : 0;
        ssize_t n = pread(fd, buf, (size_t)(keep - from), from);
        if (n <= 0)
            break;
        ssize_t i = n;
        while (i > 0 && buf[i - 1] != '\n')
            i--;
        if (i > 0) {
            keep = from + i;
            break;
        }
        keep = from;
    }
    int rc = 0;
    if (keep != size && ftruncate(fd, keep) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* What defines the crawl, one "key value" a line. */
static char *conf_text(const struct crawl_opts *o)
{
    size_t n = 1100; /* the fixed lines, the frontier's (cut at 500) */
    for (int i = 0; i < o->n_seeds; i++)
        n += strlen(o->seeds[i]) + 8;
    for (int i = 0; i < o->n_allow; i++)
        n += strlen(o->allow[i]) + 16;
    char *t = malloc(n), *p = t;
    if (t == NULL)
        return NULL;
    p += sprintf(p, "eddy-crawl state 1\n");
    for (int i = 0; i < o->n_seeds; i++)
        p += sprintf(p, "seed %s\n", o->seeds[i]);
    for (int i = 0; i < o->n_allow; i++)
        p += sprintf(p, "allow-domain %s\n", o->allow[i]);
    p += sprintf(p, "max-depth %d\nmax-pages %ld\nrobots %s\nmax-redirects %d\n", o->max_depth,
                 o->max_pages, o->robots ? "on" : "off", o->max_redirects);
    if (o->redis_host != NULL) /* the crawl lives there: this dir is its part */
        p += sprintf(p, "frontier %.400s\ncrawl-id %.100s\n", o->frontier_url, o->crawl_id);
    return t;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int state_open(const struct crawl_opts *o, int *log_fd, const char **why)
{
    if (strcmp(o->output, "-") == 0) {
        *why = "--state needs --output FILE (the output file is the record of what is done)";
        return -EINVAL;
    }
    if (mkdir(o->state_dir, 0755) != 0 && errno != EEXIST) {
        *why = "cannot create the --state directory";
        return -errno;
    }
    char *conf_path = path_in(o->state_dir, "crawl.conf");
    char *log_path = path_in(o->state_dir, "queue.log");
    char *want = conf_text(o);
    int rc = -ENOMEM;
    if (conf_path == NULL || log_path == NULL || want == NULL)
        goto out;
    FILE *f = fopen(conf_path, "r");
    if (f != NULL) {
        char have[65536];
        size_t n = fread(have, 1, sizeof have - 1, f);
        have[n] = '\0';
        fclose(f);
        if (strcmp(have, want) != 0) {
            *why = "the --state directory holds another crawl (its seeds, domains or limits "
                   "differ)";
            rc = -EINVAL;
            goto out;
        }
    } else {
        f = fopen(conf_path, "w");
        if (f == NULL || fputs(want, f) < 0 || fclose(f) != 0) {
            *why = "cannot write to the --state directory";
            rc = -EIO;
            goto out;
        }
    }
    if ((rc = trim_torn_line(o->output)) < 0 ||
        (log_fd != NULL && (rc = trim_torn_line(log_path)) < 0)) {
        *why = "cannot repair the output or queue.log";
        goto out;
    }
    rc = 0;
    if (log_fd == NULL)
        goto out; /* the shared frontier keeps what is queued */
    *log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (*log_fd < 0) {
        rc = -errno;
        *why = "cannot open queue.log in the --state directory";
        goto out;
    }
    rc = 0;
out:
    free(conf_path);
    free(log_path);
    free(want);
    return rc;
}

int state_replay(const struct crawl_opts *o, struct frontier *f, const char **why)
{
    FILE *in = fopen(o->output, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (in != NULL) {
        while ((n = getline(&line, &cap, in)) > 0) {
            json_t *j = json_loadb(line, (size_t)n, 0, NULL);
            const char *url = json_string_value(json_object_get(j, "url"));
            const char *fin = json_string_value(json_object_get(j, "final_url"));
            int rc = url != NULL ? f->ops->mark_done(f, url, true) : 0;
            if (rc == 0 && fin != NULL)
                rc = f->ops->mark_done(f, fin, false);
            json_decref(j);
            if (rc < 0) {
                *why = "out of memory reading the output";
                fclose(in);
                free(line);
                return rc;
            }
        }
        fclose(in);
    }
    char *log_path = path_in(o->state_dir, "queue.log");
    in = log_path != NULL ? fopen(log_path, "r") : NULL;
    free(log_path);
    if (in != NULL) {
        while ((n = getline(&line, &cap, in)) > 0) {
            if (line[n - 1] != '\n')
                break; /* torn (trimmed by state_open; kept safe anyway) */
            line[n - 1] = '\0';
            char *depth = strchr(line, '\t'), *parent = NULL, *url = NULL;
            if (line[0] != 'Q' || depth == NULL)
                continue;
            parent = strchr(depth + 1, '\t');
            url = parent != NULL ? strchr(parent + 1, '\t') : NULL;
            if (url == NULL)
                continue;
            *parent++ = '\0';
            *url++ = '\0';
            int d = atoi(depth + 1);
            if (f->ops->add(f, url, d, strcmp(parent, "-") == 0 ? NULL : parent) < 0) {
                *why = "out of memory reading queue.log";
                fclose(in);
                free(line);
                return -ENOMEM;
            }
        }
        fclose(in);
    }
    free(line);
    return 0;
}
