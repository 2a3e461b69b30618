/* docker tag and untagging. */
#include <errno.h>
#include <stdlib.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/image/internal.h"
#include "runtime-agent/image/store_int.h"

int image_tag(struct image_store *s, const char *source, const char *ref, berr_t *err)
{
    struct image_ref r;
    struct lookup l;
    char replaced[DIGEST_SIZE];

    if (image_ref_parse(ref, &r, err) < 0)
        return -1;
    _cleanup_free_ char *key = ref_key(&r);
    _cleanup_free_ char *familiar = image_ref_familiar(&r);
    image_ref_clear(&r);
    pthread_mutex_lock(&s->lock);
    int ret = store_lookup_locked(s, source, &l, err);
    if (ret == 0)
        ret = store_set_ref_locked(s, key, l.img->id, replaced, err);
    if (ret == 0)
        events_image("tag", l.img->id, familiar);
    lookup_clear(&l);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int image_untag(struct image_store *s, const char *ref, berr_t *err)
{
    struct image_ref r;
    int ret;

    if (image_ref_parse(ref, &r, err) < 0)
        return -1;
    _cleanup_free_ char *key = ref_key(&r);
    _cleanup_free_ char *familiar = image_ref_familiar(&r);
    image_ref_clear(&r);
    pthread_mutex_lock(&s->lock);
    if (json_object_get(s->repos, key) == NULL)
        ret = berr_status(err, ENOENT, "No such image: %s", familiar);
    else
        ret = store_drop_ref_locked(s, key, err);
    if (ret == 0)
        events_image("untag", NULL, familiar);
    pthread_mutex_unlock(&s->lock);
    return ret;
}
