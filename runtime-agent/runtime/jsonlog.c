#include "runtime-agent/runtime/jsonlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/runtime/state.h"

#define LINE_MAX_BYTES 16384

struct partial {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

struct jsonlog {
    int fd;
    char *path;
    int64_t size, max_size, max_files;
    struct partial part[3];
    char *out; /* one encoded line: at most 6 bytes per input byte plus the frame */
};

struct jsonlog *jsonlog_open(const char *path, int64_t max_size, int64_t max_files, berr_t *err)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    if (fd < 0 || fstat(fd, &st) < 0) {
        berr_set(err, errno, "log %s: open", path);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct jsonlog *log = xcalloc(1, sizeof(*log));
    log->fd = fd;
    log->path = xstrdup(path);
    log->size = st.st_size;
    log->max_size = max_size;
    log->max_files = max_files < 1 ? 1 : max_files;
    log->out = xcalloc(1, LINE_MAX_BYTES * 6 + 256);
    return log;
}

/* Length of the valid UTF-8 sequence at P (at most N bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* JSON-escape LEN bytes into OUT; invalid UTF-8 becomes U+FFFD like Go's encoder does. */
static size_t escape(char *out, const char *in, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch == '\n' || ch == '\r' || ch == '\t') {
            out[o++] = '\\';
            out[o++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
        } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
            o += (size_t)sprintf(out + o, "\\u%04x", ch);
        } else if (ch < 0x80) {
            out[o++] = (char)ch;
        } else {
            size_t n = utf8_len(p + i, len - i);
            if (n == 0) {
                o += (size_t)sprintf(out + o, "\\ufffd");
            } else {
                memcpy(out + o, p + i, n);
                o += n;
                i += n - 1;
            }
        }
    }
    return o;
}

static int rotate(struct jsonlog *log, berr_t *err)
{
    if (log->max_files <= 1) {
        if (ftruncate(log->fd, 0) < 0)
            return berr_set(err, errno, "log %s: truncate", log->path);
        log->size = 0;
        return 0;
    }
    for (int64_t i = log->max_files - 1; i >= 1; i--) {
        _cleanup_free_ char *from =
            i > 1 ? xasprintf("%s.%lld", log->path, (long long)(i - 1)) : xstrdup(log->path);
        _cleanup_free_ char *to = xasprintf("%s.%lld", log->path, (long long)i);
        if (rename(from, to) < 0 && errno != ENOENT)
            return berr_set(err, errno, "log %s: rotate", log->path);
    }
    int fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return berr_set(err, errno, "log %s: reopen after rotation", log->path);
    close(log->fd);
    log->fd = fd;
    log->size = 0;
    return 0;
}

static int emit(struct jsonlog *log, int stream, const char *line, size_t len, berr_t *err)
{
    char now[40];
    size_t n;

    state_now(now, sizeof(now));
    n = (size_t)sprintf(log->out, "{\"log\":\"");
    n += escape(log->out + n, line, len);
    n += (size_t)sprintf(log->out + n, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
                         stream == 2 ? "stderr" : "stdout", now);
    if (log->max_size > 0 && log->size > 0 && log->size + (int64_t)n > log->max_size &&
        rotate(log, err) < 0)
        return -1;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(log->fd, log->out + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return berr_set(err, errno, "log %s: write", log->path);
        off += (size_t)w;
    }
    log->size += (int64_t)n;
    return 0;
}

int jsonlog_write(struct jsonlog *log, int stream, const char *data, size_t len, berr_t *err)
{
    struct partial *p = &log->part[stream == 2 ? 2 : 1];

    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) + 1 : len;
        if (take > LINE_MAX_BYTES - p->len)
            take = LINE_MAX_BYTES - p->len;
        memcpy(p->buf + p->len, data, take);
        p->len += take;
        data += take;
        len -= take;
        if (p->buf[p->len - 1] == '\n' || p->len == LINE_MAX_BYTES) {
            size_t n = p->len;
            p->len = 0;
            if (emit(log, stream, p->buf, n, err) < 0)
                return -1;
        }
    }
    return 0;
}

int jsonlog_close(struct jsonlog *log, berr_t *err)
{
    int rc = 0;

    if (log == NULL)
        return 0;
    for (int s = 1; s <= 2; s++)
        if (log->part[s].len > 0 && emit(log, s, log->part[s].buf, log->part[s].len, err) < 0)
            rc = -1;
    close(log->fd);
    free(log->path);
    free(log->out);
    free(log);
    return rc;
}
