/*
 * benches/models/report_int.h: between report.c and report_plot.c only.
 */
#ifndef EDDY_BENCH_REPORT_INT_H
#define EDDY_BENCH_REPORT_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "models.h"

/* Writes the plots of recs into dir with gnuplot (its version into
   version; *status the run's outcome; *written the images made). idx:
   the records grouped by (workload, variant), by x within a group. */
int report_plots_(const char *dir, const mrec *recs, size_t n, const size_t *idx,
                  char *version, size_t vlen, int *status, int *written, char *err,
                  size_t errlen);
/* report.md's links to workload wl's plots (or why there are none). */
void report_plots_md_(FILE *md, const char *dir, const mrec *recs, size_t n,
                      const size_t *idx, const char *wl, int status);

/* Formats the message of an error into err, with strerror(-rc) appended;
   returns rc. */
__attribute__((format(printf, 4, 5)))
int report_fail_(char *err, size_t errlen, int rc, const char *fmt, ...);

/* A file of the report being written (its path kept for messages). */
struct report_out {
    FILE *f;
    char path[PATH_MAX];
};
/* Opens dir/name for writing. 0 or -errno, with a message in err. */
int report_out_open_(struct report_out *o, const char *dir, const char *name, char *err,
                     size_t errlen);
/* Closes o (no-op when not open); a write error so far (disk full) is
   reported here. */
int report_out_close_(struct report_out *o, char *err, size_t errlen);

#endif
