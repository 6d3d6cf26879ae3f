/*
 * tools/crawl/robots.c: parsing and matching robots.txt (RFC 9309; see
 * robots.h). Patterns and paths are compared after the same
 * percent-encoding normalisation (escapes of unreserved characters
 * decoded, the others' hex upper-cased).
 */
#include "robots.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rule {
    bool allow;
    char *pattern; /* normalised */
    size_t len;    /* octets, for "the longest match wins" */
};

struct robots {
    struct rule *rules;
    size_t n, cap;
    bool deny_all;   /* an unreachable robots.txt */
    long delay_ms;   /* -1: none */
};

/* ------------------------------------------------------------ normalising */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* A normalised copy of s[0..len): %XX of unreserved characters decoded,
   other escapes upper-cased, octets outside printable ASCII escaped. */
static char *normalise(const char *s, size_t len)
{
    char *out = malloc(len * 3 + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            int v = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            if (unreserved(v)) {
                *o++ = (char)v;
            } else {
                *o++ = '%';
                *o++ = (char)toupper((unsigned char)s[i + 1]);
                *o++ = (char)toupper((unsigned char)s[i + 2]);
            }
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f) {
            static const char hex[] = "0123456789ABCDEF";
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

/* --------------------------------------------------------------- parsing */

struct group {
    bool ours, star;     /* names the crawler's token / "*" */
    bool has_rules;      /* a rule or delay came: the next user-agent starts anew */
    size_t first_rule;   /* its rules in the scratch list */
    long delay_ms;
};

static bool add_rule(struct robots *r, bool allow, const char *v, size_t vlen)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct rule *nr = realloc(r->rules, cap * sizeof *nr);
        if (nr == NULL)
            return false;
        r->rules = nr;
        r->cap = cap;
    }
    char *p = normalise(v, vlen);
    if (p == NULL)
        return false;
    r->rules[r->n++] = (struct rule){ allow, p, strlen(p) };
    return true;
}

/* Whether a user-agent value names token: its product token (up to a
   '/' or a space) equals it, case-insensitively. */
static bool names_token(const char *v, size_t vlen, const char *token)
{
    size_t n = 0;
    while (n < vlen && v[n] != '/' && v[n] != ' ' && v[n] != '\t')
        n++;
    return n == strlen(token) && strncasecmp(v, token, n) == 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

static long parse_delay(const char *v, size_t vlen)
{
    char buf[32];
    if (vlen == 0 || vlen >= sizeof buf)
        return -1;
    memcpy(buf, v, vlen);
    buf[vlen] = '\0';
    char *end;
    double s = strtod(buf, &end);
    if (end == buf || *end != '\0' || !(s >= 0) || s > 86400)
        return -1;
    return (long)(s * 1000 + 0.5);
}

struct robots *robots_parse(const char *text, size_t len, const char *token)
{
    if (len > ROBOTS_MAX_BYTES)
        len = ROBOTS_MAX_BYTES;
    /* every group's rules go to a scratch list first; the chosen groups'
       are kept */
    struct robots all = { .delay_ms = -1 };
    struct group *groups = NULL;
    size_t ng = 0, capg = 0;
    bool oom = false;
    const char *p = text, *end = text + len;
    while (p < end && !oom) {
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        const char *line = p;
        size_t llen = (size_t)(eol - p);
        p = eol < end ? eol + 1 : end;
        const char *hash = memchr(line, '#', llen);
        if (hash != NULL)
            llen = (size_t)(hash - line);
        const char *colon = memchr(line, ':', llen);
        if (colon == NULL)
            continue;
        const char *key = line, *val = colon + 1;
        size_t klen = (size_t)(colon - line), vlen = llen - klen - 1;
        trim(&key, &klen);
        trim(&val, &vlen);
        if (klen == 10 && strncasecmp(key, "user-agent", 10) == 0) {
            if (ng == 0 || groups[ng - 1].has_rules) {
                if (ng == capg) {
                    capg = capg ? capg * 2 : 8;
                    struct group *g2 = realloc(groups, capg * sizeof *g2);
                    if (g2 == NULL) {
                        oom = true;
                        break;
                    }
                    groups = g2;
                }
                groups[ng++] = (struct group){ .first_rule = all.n, .delay_ms = -1 };
            }
            struct group *g = &groups[ng - 1];
            if (vlen == 1 && val[0] == '*')
                g->star = true;
            else if (names_token(val, vlen, token))
                g->ours = true;
            continue;
        }
        if (ng == 0)
            continue; /* a rule before any user-agent line belongs to no group */
        struct group *g = &groups[ng - 1];
        bool allow = klen == 5 && strncasecmp(key, "allow", 5) == 0;
        bool disallow = klen == 8 && strncasecmp(key, "disallow", 8) == 0;
        if (allow || disallow) {
            g->has_rules = true;
            if (vlen > 0 && !add_rule(&all, allow, val, vlen)) /* empty: no rule */
                oom = true;
        } else if (klen == 11 && strncasecmp(key, "crawl-delay", 11) == 0) {
            g->has_rules = true;
            if (g->delay_ms < 0)
                g->delay_ms = parse_delay(val, vlen);
        }
    }
    struct robots *r = calloc(1, sizeof *r);
    if (r == NULL || oom) {
        free(r);
        r = NULL;
        goto done;
    }
    r->delay_ms = -1;
    bool any_ours = false;
    for (size_t i = 0; i < ng; i++)
        any_ours |= groups[i].ours;
    for (size_t i = 0; i < ng; i++) {
        if (any_ours ? !groups[i].ours : !groups[i].star)
            continue;
        size_t last = i + 1 < ng ? groups[i + 1].first_rule : all.n;
        for (size_t k = groups[i].first_rule; k < last; k++) {
            if (!add_rule(r, all.rules[k].allow, all.rules[k].pattern, all.rules[k].len)) {
                robots_free(r);
                r = NULL;
                goto done;
            }
        }
        if (r->delay_ms < 0)
            r->delay_ms = groups[i].delay_ms;
    }
done:
    for (size_t k = 0; k < all.n; k++)
        free(all.rules[k].pattern);
    free(all.rules);
    free(groups);
    return r;
}

struct robots *robots_allow_all(void)
{
    struct robots *r = calloc(1, sizeof *r);
    if (r != NULL)
        r->delay_ms = -1;
    return r;
}

struct robots *robots_disallow_all(void)
{
    struct robots *r = robots_allow_all();
    if (r != NULL)
        r->deny_all = true;
    return r;
}

void robots_free(struct robots *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->rules[i].pattern);
    free(r->rules);
    free(r);
}

long robots_crawl_delay_ms(const struct robots *r)
{
    return r != NULL ? r->delay_ms : -1;
}

char *robots_to_text(const struct robots *r, size_t *len)
{
    size_t cap = 64;
    for (size_t i = 0; r != NULL && i < r->n; i++)
        cap += r->rules[i].len + sizeof "Disallow: \n";
    char *out = malloc(cap), *o = out;
    if (out == NULL)
        return NULL;
    o += sprintf(o, "User-agent: *\n");
    if (r != NULL && r->deny_all)
        o += sprintf(o, "Disallow: /\n");
    for (size_t i = 0; r != NULL && i < r->n; i++) /* normalised: no '#', no line end */
        o += sprintf(o, "%s: %s\n", r->rules[i].allow ? "Allow" : "Disallow", r->rules[i].pattern);
    if (r != NULL && r->delay_ms >= 0)
        o += sprintf(o, "Crawl-delay: %ld.%03ld\n", r->delay_ms / 1000, r->delay_ms % 1000);
    *len = (size_t)(o - out);
    return out;
}

/* -------------------------------------------------------------- matching */

/* Whether pattern p (plen octets: "*" any run, a final "$" the end)
   matches a prefix of s, or all of s when it ends in "$". */
static bool match(const char *p, size_t plen, const char *s)
{
    bool anchored = plen > 0 && p[plen - 1] == '$';
    if (anchored)
        plen--;
    size_t slen = strlen(s), pi = 0, si = 0, star = (size_t)-1, mark = 0;
    for (;;) {
        if (pi == plen) {
            if (!anchored || si == slen)
                return true;
        } else if (p[pi] == '*') {
            star = pi++;
            mark = si;
            continue;
        } else if (si < slen && p[pi] == s[si]) {
            pi++;
            si++;
            continue;
        }
        /* no match here: let the last "*" take one more octet */
        if (star == (size_t)-1 || mark >= slen)
            return false;
        pi = star + 1;
        si = ++mark;
    }
}

bool robots_allowed(const struct robots *r, const char *path)
{
    if (r == NULL)
        return true;
    if (strcmp(path, "/robots.txt") == 0)
        return true;
    if (r->deny_all)
        return false;
    char *np = normalise(path, strlen(path));
    if (np == NULL)
        return false;
    size_t best = 0;
    bool found = false, allow = true;
    for (size_t i = 0; i < r->n; i++) {
        const struct rule *ru = &r->rules[i];
        if (!match(ru->pattern, ru->len, np))
            continue;
        if (!found || ru->len > best || (ru->len == best && ru->allow && !allow)) {
            found = true;
            best = ru->len;
            allow = ru->allow;
        }
    }
    free(np);
    return allow;
}
