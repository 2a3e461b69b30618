#include "runtime-agent/containers/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/timefmt.h"

#define READ_CHUNK (64 * 1024)
#define OUT_FLUSH (64 * 1024)
/* Rotated files looked at: far more than any max-file anyone sets. */
#define MAX_ROTATED 1000
/* A line longer than this is not something the shim writes (16 KiB of output at most,
 * escaped): such a line is skipped rather than buffered without bound. */
#define MAX_LINE (1024 * 1024)

/* ---- times ---- */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int logs_parse_unix(const char *s, int64_t *ns)
{
    const char *p = s;
    int64_t secs = 0;

    *ns = 0;
    if (s == NULL || *s == '\0')
        return 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        secs = secs * 10 + (*p - '0');
        if (secs > INT64_MAX / NS_PER_SEC - 1)
            return -1;
    }
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        frac = time_parse_frac(&p);
    }
    if (*p != '\0')
        return -1;
    *ns = secs * NS_PER_SEC + frac;
    return 0;
}

long long logs_parse_tail(const char *s)
{
    char *end;

    if (s == NULL || *s == '\0' || strcmp(s, "all") == 0)
        return -1;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || n < 0)
        return -1;
    return n;
}

void logs_format_time(int64_t ns, char *out, size_t len)
{
    time_t secs = (time_t)(ns / NS_PER_SEC);
    long frac = (long)(ns % NS_PER_SEC);
    struct tm tm;

    if (frac < 0) {
        frac += NS_PER_SEC;
        secs--;
    }
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%09ldZ", frac);
}

void stdcopy_header(unsigned char h[STDCOPY_HEADER], int stream, uint32_t len)
{
    h[0] = (unsigned char)stream;
    h[1] = h[2] = h[3] = 0;
    h[4] = (unsigned char)(len >> 24);
    h[5] = (unsigned char)(len >> 16);
    h[6] = (unsigned char)(len >> 8);
    h[7] = (unsigned char)len;
}

/* ---- the reader ---- */

struct reader {
    const char *path;
    const struct log_opts *o;
    const struct log_sink *sink;
    int fd; /* the file being read, -1 for none yet */
    dev_t dev;
    ino_t ino;
    off_t off;
    char *rbuf;
    char *line; /* the partial line read so far */
    size_t line_len, line_cap;
    bool overlong; /* skipping the rest of a line past MAX_LINE */
    char *out;     /* formatted output not yet sent */
    size_t out_len, out_cap;
    bool stop; /* `until` passed */
};

static void reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (p == NULL)
        abort();
    *buf = p;
    *cap = n;
}

static int flush(struct reader *r, berr_t *err)
{
    if (r->out_len == 0)
        return 0;
    size_t n = r->out_len;
    r->out_len = 0;
    return r->sink->write(r->sink->ctx, r->out, n, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Go's url.QueryEscape of S appended to R's output. */
static void put_escaped(struct reader *r, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        reserve(&r->out, &r->out_cap, r->out_len + 3);
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            r->out[r->out_len++] = (char)ch;
        } else if (ch == ' ') {
            r->out[r->out_len++] = '+';
        } else {
            r->out[r->out_len++] = '%';
            r->out[r->out_len++] = hex[ch >> 4];
            r->out[r->out_len++] = hex[ch & 15];
        }
    }
}

static void put(struct reader *r, const void *p, size_t n)
{
    reserve(&r->out, &r->out_cap, r->out_len + n);
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

/* The attrs of a message as Docker prints them with `details`: k=v pairs sorted by key,
 * comma separated, query-escaped. */
static void put_attrs(struct reader *r, json_t *attrs)
{
    size_t n = json_object_size(attrs), i = 0;
    const char *key;
    json_t *v;

    if (n == 0)
        return;
    const char **keys = xcalloc(n, sizeof(*keys));
    json_object_foreach(attrs, key, v) keys[i++] = key;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n; i++) {
        const char *val = json_string_value(json_object_get(attrs, keys[i]));
        if (i > 0)
            put(r, ",", 1);
        put_escaped(r, keys[i]);
        put(r, "=", 1);
        put_escaped(r, val ? val : "");
    }
    free(keys);
}

/* One line of the log file (without its newline). */
static int handle_line(struct reader *r, const char *line, size_t len, berr_t *err)
{
    const struct log_opts *o = r->o;
    json_error_t jerr;
    int64_t t = 0;

    if (len == 0 || r->stop)
        return 0;
    json_t *m = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
    json_t *log = json_object_get(m, "log");
    if (!json_is_string(log)) {
        json_decref(m); /* a damaged line (disk full, crash mid-write): skip it */
        return 0;
    }
    const char *stream = json_string_value(json_object_get(m, "stream"));
    int sn = stream && strcmp(stream, "stderr") == 0 ? STDCOPY_STDERR : STDCOPY_STDOUT;
    if (time_parse_rfc3339_ns(json_string_value(json_object_get(m, "time")), &t) < 0)
        t = 0;
    if (o->until_ns > 0 && t > o->until_ns) {
        r->stop = true;
    } else if ((o->since_ns <= 0 || t >= o->since_ns) &&
               (sn == STDCOPY_STDERR ? o->show_stderr : o->show_stdout)) {
        size_t start = r->out_len;
        if (!o->tty)
            put(r, "\0\0\0\0\0\0\0\0", STDCOPY_HEADER);
        if (o->timestamps) {
            char ts[48];
            logs_format_time(t, ts, sizeof(ts));
            put(r, ts, strlen(ts));
            put(r, " ", 1);
        }
        if (o->details) {
            put_attrs(r, json_object_get(m, "attrs"));
            put(r, " ", 1);
        }
        put(r, json_string_value(log), json_string_length(log));
        if (!o->tty)
            stdcopy_header((unsigned char *)r->out + start, sn,
                           (uint32_t)(r->out_len - start - STDCOPY_HEADER));
    }
    json_decref(m);
    return r->out_len >= OUT_FLUSH ? flush(r, err) : 0;
}

/* Split N bytes at P into lines, keeping an unfinished one for later. */
static int feed(struct reader *r, const char *p, size_t n, berr_t *err)
{
    while (n > 0 && !r->stop) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) + 1 : n;
        int rc = 0;
        if (r->overlong) {
            r->overlong = nl == NULL;
        } else if (r->line_len == 0 && nl) {
            rc = handle_line(r, p, take - 1, err);
        } else if (r->line_len + take > MAX_LINE) {
            r->line_len = 0;
            r->overlong = nl == NULL;
        } else {
            reserve(&r->line, &r->line_cap, r->line_len + take);
            memcpy(r->line + r->line_len, p, take);
            r->line_len += take;
            if (nl) {
                rc = handle_line(r, r->line, r->line_len - 1, err);
                r->line_len = 0;
            }
        }
        if (rc < 0)
            return -1;
        p += take;
        n -= take;
    }
    return 0;
}

/* Read r->fd from r->off to its current end. */
static int drain(struct reader *r, berr_t *err)
{
    while (r->fd >= 0 && !r->stop) {
        ssize_t n = pread(r->fd, r->rbuf, READ_CHUNK, r->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berr_set(err, errno, "read log %s", r->path);
        if (n == 0)
            return 0;
        r->off += n;
        if (feed(r, r->rbuf, (size_t)n, err) < 0)
            return -1;
    }
    return 0;
}

/* At the end of a file that will not grow (rotated away): a last line without its newline
 * still counts when it parses. */
static int finish_file(struct reader *r, berr_t *err)
{
    int rc = 0;

    if (r->line_len > 0 && !r->overlong)
        rc = handle_line(r, r->line, r->line_len, err);
    r->line_len = 0;
    r->overlong = false;
    return rc;
}

static void set_file(struct reader *r, int fd, off_t off)
{
    struct stat st;

    if (r->fd >= 0)
        close(r->fd);
    r->fd = fd;
    r->off = off;
    r->line_len = 0;
    r->overlong = false;
    r->dev = 0;
    r->ino = 0;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        r->dev = st.st_dev;
        r->ino = st.st_ino;
    }
}

/* ---- which files, and where tail starts ---- */

struct lfile {
    int fd;
    dev_t dev;
    ino_t ino;
    off_t size;
};

static char *rotated_name(const char *path, int i)
{
    return i == 0 ? xstrdup(path) : xasprintf("%s.%d", path, i);
}

/* Open PATH, PATH.1, PATH.2, ... (up to the first missing rotated file) and return them
 * oldest first, without duplicates (a rotation while we open them). */
static struct lfile *open_all(const char *path, size_t *n)
{
    struct lfile *v = NULL;
    size_t cnt = 0;

    for (int i = 0; i <= MAX_ROTATED; i++) {
        _cleanup_free_ char *name = rotated_name(path, i);
        struct stat st;
        int fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (i == 0)
                continue; /* between a rotation's rename and the new file */
            break;
        }
        bool dup = fstat(fd, &st) < 0 || !S_ISREG(st.st_mode);
        for (size_t j = 0; j < cnt && !dup; j++)
            dup = v[j].dev == st.st_dev && v[j].ino == st.st_ino;
        if (dup) {
            close(fd);
            continue;
        }
        struct lfile *nv = realloc(v, (cnt + 1) * sizeof(*v));
        if (nv == NULL)
            abort();
        v = nv;
        v[cnt++] = (struct lfile){fd, st.st_dev, st.st_ino, st.st_size};
    }
    for (size_t i = 0; i < cnt / 2; i++) {
        struct lfile t = v[i];
        v[i] = v[cnt - 1 - i];
        v[cnt - 1 - i] = t;
    }
    *n = cnt;
    return v;
}

/* Where the last *NEED complete lines of F begin, scanning back from its end; *NEED drops by
 * the lines found (all of F's when it has fewer, then the offset is 0). With *NEED 0 on
 * entry: the end of F's last complete line. */
static int tail_scan(struct reader *r, const struct lfile *f, long long *need, off_t *start,
                     berr_t *err)
{
    off_t pos = f->size, end = -1;
    long long found = 0;

    while (pos > 0) {
        size_t n = pos > READ_CHUNK ? READ_CHUNK : (size_t)pos;
        ssize_t got = pread(f->fd, r->rbuf, n, pos - (off_t)n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return berr_set(err, errno, "read log %s", r->path);
        if ((size_t)got < n) { /* truncated meanwhile */
            pos = (off_t)got;
            continue;
        }
        pos -= (off_t)n;
        for (size_t i = n; i-- > 0;) {
            if (r->rbuf[i] != '\n')
                continue;
            off_t at = pos + (off_t)i;
            if (end < 0) { /* the newline ending the last complete line */
                end = at + 1;
                if (*need == 0) {
                    *start = end;
                    return 0;
                }
                continue;
            }
            if (++found == *need) {
                *need = 0;
                *start = at + 1;
                return 0;
            }
        }
    }
    if (end > 0)
        found++; /* the first line of the file */
    *need = *need > found ? *need - found : 0;
    *start = 0;
    return 0;
}

/* ---- following ---- */

/* Read, oldest first, the files rotated in after ours (PATH.K-1 ... PATH.1 when ours
 * became PATH.K): more than one rotation between two polls. */
static int read_skipped(struct reader *r, berr_t *err)
{
    int k = 0;

    for (int i = 1; i <= MAX_ROTATED && k == 0; i++) {
        _cleanup_free_ char *name = rotated_name(r->path, i);
        struct stat st;
        if (stat(name, &st) < 0)
            break;
        if (st.st_dev == r->dev && st.st_ino == r->ino)
            k = i;
    }
    for (int i = k - 1; i >= 1 && !r->stop; i--) {
        _cleanup_free_ char *name = rotated_name(r->path, i);
        int fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        set_file(r, fd, 0);
        if (drain(r, err) < 0 || finish_file(r, err) < 0)
            return -1;
    }
    return 0;
}

/* Move on when PATH is no longer the file being read. Returns 1 when there is a new file
 * (or the old one was truncated) to read at once, 0 when nothing changed, -1 on error. */
static int follow_switch(struct reader *r, berr_t *err)
{
    struct stat st;

    if (stat(r->path, &st) < 0)
        return 0; /* mid-rotation, or the container went away */
    if (r->fd >= 0 && st.st_dev == r->dev && st.st_ino == r->ino) {
        struct stat cur;
        if (fstat(r->fd, &cur) == 0 && cur.st_size < r->off) { /* truncated (max-file 1) */
            r->off = 0;
            r->line_len = 0;
            r->overlong = false;
            return 1;
        }
        return 0;
    }
    if (r->fd >= 0 && (drain(r, err) < 0 || finish_file(r, err) < 0 || read_skipped(r, err) < 0))
        return -1;
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    set_file(r, fd, 0);
    return 1;
}

static int follow(struct reader *r, berr_t *err)
{
    const struct log_sink *s = r->sink;

    for (;;) {
        bool more = s->alive(s->ctx);
        if (drain(r, err) < 0)
            return -1;
        if (r->stop)
            return 0;
        int sw = follow_switch(r, err);
        if (sw < 0)
            return -1;
        if (sw > 0)
            continue;
        if (!more || (r->o->until_ns > 0 && now_ns() > r->o->until_ns))
            return 0;
        if (flush(r, err) < 0)
            return -1;
        if (s->idle != NULL) {
            if (s->idle(s->ctx, LOGS_FOLLOW_INTERVAL_MS, err) < 0)
                return -1;
        } else {
            struct timespec ts = {0, LOGS_FOLLOW_INTERVAL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

int logs_stream(const char *path, const struct log_opts *opts, const struct log_sink *sink,
                berr_t *err)
{
    struct reader r = {.path = path, .o = opts, .sink = sink, .fd = -1};
    size_t n = 0, first = 0;
    off_t start = 0;
    int rc = 0;

    r.rbuf = xcalloc(1, READ_CHUNK);
    struct lfile *f = open_all(path, &n);
    if (opts->tail >= 0 && n > 0) {
        long long need = opts->tail;
        first = n - 1;
        for (size_t i = n; i-- > 0 && rc == 0;) {
            first = i;
            rc = tail_scan(&r, &f[i], &need, &start, err);
            if (need == 0)
                break;
        }
    }
    for (size_t i = first; i < n && rc == 0; i++) {
        int fd = f[i].fd;
        f[i].fd = -1;
        set_file(&r, fd, i == first ? start : 0); /* closes the previous file */
        rc = drain(&r, err);
        if (rc == 0 && i + 1 < n)
            rc = finish_file(&r, err);
    }
    for (size_t i = 0; i < n; i++)
        if (f[i].fd >= 0)
            close(f[i].fd);
    free(f);
    if (rc == 0 && opts->follow && !r.stop && sink->alive != NULL)
        rc = follow(&r, err);
    if (rc == 0)
        rc = flush(&r, err);
    if (r.fd >= 0)
        close(r.fd);
    free(r.rbuf);
    free(r.line);
    free(r.out);
    return rc;
}
