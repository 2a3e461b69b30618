/* docker cp: HEAD, GET and PUT /containers/{id}/archive?path=, on running and stopped
 * containers alike (containers/fsview.h), every path resolved inside the container's root
 * (containers/cp.h). */
#include <errno.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/containers/cp.h"
#include "runtime-agent/containers/fsview.h"
#include "runtime-agent/containers/mounts.h"

#define TAR_TYPE "application/x-tar"
#define STAT_HEADER "X-Docker-Container-Path-Stat"

static struct containers *cs_of(struct http_request *req)
{
    return daemon_containers(api_daemon(req));
}

/* The container of {id} and a view of its file system with its volumes. */
static int open_view(struct http_request *req, struct container **c, struct ctr_view **v,
                     berr_t *err)
{
    const char *path = http_req_query(req, "path");

    if (path == NULL || *path == '\0')
        return http_err(err, EINVAL, "Path cannot be empty");
    if (ctr_get(&cs_of(req)->store, http_req_param(req, "id"), c, err) < 0)
        return -1;
    if (ctr_view_open(cs_of(req), *c, VIEW_VOLUMES, v, err) < 0) {
        ctr_put(&cs_of(req)->store, *c);
        return -1;
    }
    return 0;
}

static void close_view(struct http_request *req, struct container *c, struct ctr_view *v)
{
    ctr_view_close(v);
    ctr_put(&cs_of(req)->store, c);
}

/* Docker's 404 for a path that is not there. */
static int not_found(struct http_request *req, berr_t *err)
{
    if (*err == NULL || (*err)->errnum != ENOENT)
        return -1;
    berr_free(err);
    return http_err(err, ENOENT, "Could not find the file %s in container %s",
                    http_req_query(req, "path"), http_req_param(req, "id"));
}

struct chunk_out {
    struct http_response *resp;
    berr_t err;
};

static int chunk_write(void *ctx, const void *buf, size_t len)
{
    struct chunk_out *o = ctx;
    if (http_chunk_write(o->resp, buf, len, &o->err) < 0) {
        errno = EPIPE;
        return -1;
    }
    return 0;
}

static int send_archive(struct http_response *resp, int root, const char *path, berr_t *err)
{
    struct chunk_out o = {resp, NULL};
    struct io_writer w = {chunk_write, &o};

    if (http_chunk_begin(resp, 200, TAR_TYPE, err) < 0)
        return -1;
    int ret = cp_archive(root, path, &w, err);
    berr_free(&o.err);
    return ret;
}

/* HEAD: the stat header alone; GET: the header and a tar of the path. */
static int h_get(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *path = http_req_query(req, "path");
    struct container *c;
    struct ctr_view *v;
    struct cp_stat st;

    if (open_view(req, &c, &v, err) < 0)
        return -1;
    int ret = cp_stat(v->root, path, &st, err);
    if (ret < 0)
        not_found(req, err);
    if (ret == 0) {
        _cleanup_free_ char *header = cp_stat_header(&st);
        http_resp_header(resp, STAT_HEADER, "%s", header);
        if (strcmp(http_req_method(req), "HEAD") == 0)
            http_resp_send(resp, 200, TAR_TYPE, "", 0);
        else
            ret = send_archive(resp, v->root, path, err);
        cp_stat_free(&st);
    }
    close_view(req, c, v);
    return ret;
}

/* dockerd refuses to write into a read-only volume, or elsewhere on a read-only rootfs. */
static int check_writable(const struct container *c, const char *dir, berr_t *err)
{
    const json_t *m = mounts_find(c->mounts, dir);
    const json_t *tmpfs = json_object_get(c->host, "Tmpfs");
    const char *key;
    json_t *v;

    if (m)
        return json_is_true(json_object_get(m, "RW"))
                   ? 0
                   : http_err(err, EINVAL, "mounted volume is marked read-only");
    if (!json_is_true(json_object_get(c->host, "ReadonlyRootfs")))
        return 0;
    json_object_foreach((json_t *)tmpfs, key, v)
    {
        size_t len = strlen(key);
        if (strncmp(dir, key, len) == 0 && (dir[len] == '\0' || dir[len] == '/'))
            return 0;
    }
    return http_err(err, EINVAL, "container rootfs is marked read-only");
}

/* -a (copyUIDGID): entries belong to the container's user when it has one, as in dockerd. */
static int extract_opts(struct http_request *req, const struct container *c, int root,
                        struct cp_extract_opts *o, berr_t *err)
{
    const char *user = json_string_value(json_object_get(c->config, "User"));

    o->no_overwrite_dir_non_dir = http_req_query_bool(req, "noOverwriteDirNonDir", false);
    o->chown = http_req_query_bool(req, "copyUIDGID", false) && user && *user;
    berr_t e = NULL;
    if (o->chown && cp_lookup_user(root, user, &o->uid, &o->gid, &e) < 0) {
        http_err(err, EINVAL, "%s", berr_msg(e));
        berr_free(&e);
        return -1;
    }
    return 0;
}

struct body_in {
    struct http_request *req;
    berr_t err;
};

static ssize_t body_read(void *ctx, void *buf, size_t len)
{
    struct body_in *b = ctx;
    berr_free(&b->err);
    ssize_t n = http_body_read(b->req, buf, len, &b->err);
    if (n < 0)
        errno = b->err && b->err->errnum ? b->err->errnum : EIO;
    return n;
}

static int extract(struct http_request *req, const struct container *c, int root, berr_t *err)
{
    struct cp_extract_opts o = {0};
    struct body_in b = {req, NULL};
    struct io_reader in = {body_read, &b};
    _cleanup_free_ char *dir = cp_extract_dir(root, http_req_query(req, "path"), err);

    if (dir == NULL)
        return not_found(req, err);
    if (check_writable(c, dir, err) < 0 || extract_opts(req, c, root, &o, err) < 0)
        return -1;
    int ret = cp_extract(root, dir, &in, &o, err);
    if (ret < 0 && b.err)
        berr_prefix(err, "%s", berr_msg(b.err));
    berr_free(&b.err);
    return ret;
}

static int h_put(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    struct ctr_view *v;

    if (open_view(req, &c, &v, err) < 0)
        return -1;
    int ret = extract(req, c, v->root, err);
    close_view(req, c, v);
    if (ret < 0)
        return -1;
    http_resp_empty(resp, 200);
    return 0;
}

const struct http_route api_archive_routes[] = {
    {"GET", "/containers/{id}/archive", h_get, 0},
    {"HEAD", "/containers/{id}/archive", h_get, 0},
    {"PUT", "/containers/{id}/archive", h_put, HTTP_BODY_UNLIMITED},
};
const size_t api_archive_routes_len = sizeof(api_archive_routes) / sizeof(api_archive_routes[0]);
