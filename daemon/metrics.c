/*
 * metrics.c - counters and gauges in the Prometheus text format.
 *
 * Families are kept in registration order, each with its samples in
 * registration order; samples are individually allocated so that the
 * pointers handed to the daemon stay valid while the arrays grow. The
 * registry is small (tens to a few hundred samples) and registration
 * happens at start-up, so lookups are linear scans.
 */
#include "daemon/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct tc_metrics_sample {
    char *labels; /* rendered `{a="x",b="y"}` or "" */
    double value;
};

typedef struct family {
    char *name;
    char *help;
    tc_metrics_type_t type;
    char *label_names; /* "a,b" signature, "" without labels */
    tc_metrics_sample_t **samples;
    size_t n, cap;
} family_t;

struct tc_metrics {
    family_t **families;
    size_t n, cap;
    size_t nsamples;
    tc_metrics_collect_fn collect;
    void *collect_ctx;
};

/* A growable string; on allocation failure it stays failed and drops text. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf_t;

static void sb_reserve(sbuf_t *b, size_t extra)
{
    if (b->failed || b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_putn(sbuf_t *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_putc(sbuf_t *b, char c)
{
    sb_putn(b, &c, 1);
}

/* Escapes backslash and newline (help), plus double quote (label values). */
static void sb_escape(sbuf_t *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            sb_puts(b, "\\\\");
        else if (*s == '\n')
            sb_puts(b, "\\n");
        else if (quote && *s == '"')
            sb_puts(b, "\\\"");
        else
            sb_putc(b, *s);
    }
}

static bool valid_name(const char *s, bool metric)
{
    if (!s || !*s)
        return false;
    if (!metric && s[0] == '_' && s[1] == '_')
        return false;
    for (const char *c = s; *c; c++) {
        bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                     (metric && *c == ':');
        bool digit = *c >= '0' && *c <= '9';
        if (!alpha && !(digit && c != s))
            return false;
    }
    return true;
}

static void family_free(family_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->samples[i]->labels);
        free(f->samples[i]);
    }
    free(f->samples);
    free(f->name);
    free(f->help);
    free(f->label_names);
    free(f);
}

tc_metrics_t *tc_metrics_new(void)
{
    return calloc(1, sizeof(tc_metrics_t));
}

void tc_metrics_free(tc_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->families[i]);
    free(m->families);
    free(m);
}

void tc_metrics_set_collect(tc_metrics_t *m, tc_metrics_collect_fn fn, void *ctx)
{
    m->collect = fn;
    m->collect_ctx = ctx;
}

static family_t *find_family(const tc_metrics_t *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->families[i]->name, name))
            return m->families[i];
    return NULL;
}

/* Creates a family and appends it; NULL on allocation failure. */
static family_t *add_family(tc_metrics_t *m, tc_metrics_type_t type, const char *name,
                            const char *help, const char *label_names)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        family_t **fs = realloc(m->families, cap * sizeof(*fs));
        if (!fs)
            return NULL;
        m->families = fs;
        m->cap = cap;
    }
    family_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->label_names = strdup(label_names);
    if (!f->name || !f->help || !f->label_names) {
        family_free(f);
        return NULL;
    }
    m->families[m->n++] = f;
    return f;
}

int tc_metrics_add(tc_metrics_t *m, tc_metrics_type_t type, const char *name, const char *help,
                   const char *const *labels, size_t npairs, tc_metrics_sample_t **out)
{
    int rc = 0;
    sbuf_t names = {0}, rendered = {0};
    tc_metrics_sample_t *s = NULL;
    if (out)
        *out = NULL;
    if (!m || !valid_name(name, true) || (type != TC_METRICS_COUNTER && type != TC_METRICS_GAUGE) ||
        (npairs && !labels)) {
        rc = TC_EINVAL;
        goto out;
    }
    /* Label signature ("a,b") and the rendered label set ({a="x",b="y"}). */
    sb_puts(&names, "");
    sb_puts(&rendered, "");
    for (size_t i = 0; i < npairs; i++) {
        const char *k = labels[2 * i], *v = labels[2 * i + 1];
        if (!valid_name(k, false) || !v) {
            rc = TC_EINVAL;
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(labels[2 * j], k)) {
                rc = TC_EINVAL;
                goto out;
            }
        sb_puts(&names, i ? "," : "");
        sb_puts(&names, k);
        sb_puts(&rendered, i ? "," : "{");
        sb_puts(&rendered, k);
        sb_puts(&rendered, "=\"");
        sb_escape(&rendered, v, true);
        sb_putc(&rendered, '"');
    }
    if (npairs)
        sb_putc(&rendered, '}');
    if (names.failed || rendered.failed) {
        rc = TC_ENOMEM;
        goto out;
    }
    family_t *f = find_family(m, name);
    if (f) {
        if (f->type != type || strcmp(f->label_names, names.p)) {
            rc = TC_EINVAL;
            goto out;
        }
        for (size_t i = 0; i < f->n; i++)
            if (!strcmp(f->samples[i]->labels, rendered.p)) {
                if (out)
                    *out = f->samples[i];
                rc = TC_EEXISTS;
                goto out;
            }
    } else if (!(f = add_family(m, type, name, help, names.p))) {
        rc = TC_ENOMEM;
        goto out;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 4;
        tc_metrics_sample_t **ss = realloc(f->samples, cap * sizeof(*ss));
        if (!ss) {
            rc = TC_ENOMEM;
            goto out;
        }
        f->samples = ss;
        f->cap = cap;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        rc = TC_ENOMEM;
        goto out;
    }
    s->labels = rendered.p;
    rendered.p = NULL; /* owned by the sample */
    f->samples[f->n++] = s;
    m->nsamples++;
    if (out)
        *out = s;
out:
    free(names.p);
    free(rendered.p);
    return rc;
}

int tc_metrics_add0(tc_metrics_t *m, tc_metrics_type_t type, const char *name, const char *help,
                    tc_metrics_sample_t **out)
{
    return tc_metrics_add(m, type, name, help, NULL, 0, out);
}

int tc_metrics_add1(tc_metrics_t *m, tc_metrics_type_t type, const char *name, const char *help,
                    const char *label, const char *value, tc_metrics_sample_t **out)
{
    const char *pair[2] = {label, value};
    return tc_metrics_add(m, type, name, help, pair, 1, out);
}

void tc_metrics_set(tc_metrics_sample_t *s, double v)
{
    if (s)
        s->value = v;
}

void tc_metrics_inc(tc_metrics_sample_t *s, double by)
{
    if (s)
        s->value += by;
}

double tc_metrics_get(const tc_metrics_sample_t *s)
{
    return s ? s->value : 0.0;
}

size_t tc_metrics_count(const tc_metrics_t *m)
{
    return m ? m->nsamples : 0;
}

static void put_value(sbuf_t *b, double v)
{
    char num[40];
    if (isnan(v))
        sb_puts(b, "NaN");
    else if (isinf(v))
        sb_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* exact integer below 2^53 */
        snprintf(num, sizeof(num), "%.0f", v), sb_puts(b, num);
    else
        snprintf(num, sizeof(num), "%.17g", v), sb_puts(b, num);
}

int tc_metrics_render(tc_metrics_t *m, char **out, size_t *len)
{
    sbuf_t b = {0};
    *out = NULL;
    if (len)
        *len = 0;
    if (m->collect)
        m->collect(m->collect_ctx, m);
    sb_puts(&b, "");
    for (size_t i = 0; i < m->n; i++) {
        const family_t *f = m->families[i];
        sb_puts(&b, "# HELP ");
        sb_puts(&b, f->name);
        sb_putc(&b, ' ');
        sb_escape(&b, f->help, false);
        sb_puts(&b, "\n# TYPE ");
        sb_puts(&b, f->name);
        sb_puts(&b, f->type == TC_METRICS_COUNTER ? " counter\n" : " gauge\n");
        for (size_t j = 0; j < f->n; j++) {
            sb_puts(&b, f->name);
            sb_puts(&b, f->samples[j]->labels);
            sb_putc(&b, ' ');
            put_value(&b, f->samples[j]->value);
            sb_putc(&b, '\n');
        }
    }
    if (b.failed) {
        free(b.p);
        return TC_ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}
