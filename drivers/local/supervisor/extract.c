/* Extracting the machine image into a root file system: `berth-local extract IMAGE ROOTFS`.
 * It lives in the helper, not in local.so, so that loading the driver (every berth command
 * on a local machine, `berth ls` included) does not load libarchive and what it pulls in
 * (libxml2, ICU, libstdc++): about 2 ms of dynamic linking per process. */
#include "drivers/local/supervisor/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"

/* Only plain relative names: no absolute path, no "..". */
static bool safe_name(const char *name)
{
    if (name[0] == '/')
        return false;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        while (*p == '/')
            p++;
    }
    return true;
}

static int copy_entries(struct archive *in, struct archive *out, const char *image,
                        const char *dest, berr_t *err)
{
    struct archive_entry *e;
    int r;

    while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        const char *link = archive_entry_hardlink(e);
        if (name == NULL || !safe_name(name) || (link && !safe_name(link)))
            return berr_set(err, 0, "%s: unsafe entry \"%s\"", image, name ? name : "");
        _cleanup_free_ char *full = path_join(dest, name);
        archive_entry_set_pathname(e, full);
        if (link) {
            _cleanup_free_ char *full_link = path_join(dest, link);
            archive_entry_set_hardlink(e, full_link);
        }
        if (archive_write_header(out, e) != ARCHIVE_OK)
            return berr_set(err, 0, "extract %s: %s", name, archive_error_string(out));
        const void *buf;
        size_t len;
        la_int64_t off;
        while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
            if (archive_write_data_block(out, buf, len, off) != ARCHIVE_OK)
                return berr_set(err, 0, "extract %s: %s", name, archive_error_string(out));
        if (r != ARCHIVE_EOF)
            return berr_set(err, 0, "%s: %s", image, archive_error_string(in));
        if (archive_write_finish_entry(out) != ARCHIVE_OK)
            return berr_set(err, 0, "extract %s: %s", name, archive_error_string(out));
    }
    if (r != ARCHIVE_EOF)
        return berr_set(err, 0, "%s: %s", image, archive_error_string(in));
    return 0;
}

int rootfs_extract(const char *image, const char *rootfs, berr_t *err)
{
    const int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_OWNER |
                      ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR |
                      ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT;
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.XXXXXX", rootfs);
    struct archive *in = archive_read_new();
    struct archive *out = archive_write_disk_new();
    int ret = -1;

    if (mkdtemp(tmp) == NULL) {
        berr_set(err, errno, "create %s", tmp);
        goto out;
    }
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    archive_write_disk_set_options(out, flags);
    archive_write_disk_set_standard_lookup(out);
    if (archive_read_open_filename(in, image, 64 * 1024) != ARCHIVE_OK) {
        berr_set(err, 0, "open %s: %s", image, archive_error_string(in));
        goto out;
    }
    if (copy_entries(in, out, image, tmp, err) < 0 || chmod(tmp, 0755) < 0)
        goto out;
    if (rename(tmp, rootfs) < 0) {
        berr_set(err, errno, "rename %s to %s", tmp, rootfs);
        goto out;
    }
    ret = 0;
out:
    archive_read_free(in);
    archive_write_free(out);
    if (ret < 0 && file_exists(tmp))
        rm_rf(tmp, NULL);
    return ret < 0 ? berr_prefix(err, "root file system from %s", image) : 0;
}
