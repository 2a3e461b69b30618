/* Linked into berthd-static only. libarchive keeps this helper of its tar writers in the
 * same object as the table of every archive writer, so using the pax writer statically
 * drags in the xar writer and with it libxml2 and ICU (33 MB of the 39 MB binary). berthd
 * writes tar only; this definition takes the object's place with the same behaviour:
 * refuse an entry whose file type the format cannot hold. */
#include <archive.h>
#include <errno.h>
#include <archive_entry.h>

void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry,
                                                const char *format);

void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry,
                                                const char *format)
{
    archive_set_error(a, EINVAL, "%s: %s format cannot archive this file type",
                      archive_entry_pathname(entry), format);
}
