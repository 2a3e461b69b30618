/* nft_backend_run through libnftables (berthd): one context per call, so no state is kept
 * between calls (nft.c serialises them). Output and errors go to the context's buffers. With
 * JSON output libnftables first tries the script as JSON input, then as nft syntax. */
#include "runtime-agent/network/nft.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "berth/util.h"

int nft_backend_run(const char *script, unsigned flags, char **out, berr_t *err)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx == NULL)
        return berr_set(err, ENOMEM, "libnftables: create a context");
    if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
        nft_ctx_free(ctx);
        return berr_set(err, ENOMEM, "libnftables: buffer output");
    }
    unsigned int oflags = 0;
    if (flags & NFT_F_JSON)
        oflags |= NFT_CTX_OUTPUT_JSON;
    if (flags & NFT_F_HANDLE)
        oflags |= NFT_CTX_OUTPUT_HANDLE;
    nft_ctx_output_set_flags(ctx, oflags);
    nft_ctx_set_dry_run(ctx, (flags & NFT_F_DRY_RUN) != 0);

    /* From a file rather than nft_run_cmd_from_buffer: libnftables 1.0.6 quotes the first line
     * of a buffer with every error, whatever line it is about; a file's errors quote the right
     * one, as nft -f does. */
    int fd = nft_script_memfd(script, err);
    if (fd < 0) {
        nft_ctx_free(ctx);
        return berr_prefix(err, "libnftables");
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    int r = 0;
    if (nft_run_cmd_from_filename(ctx, path) != 0) {
        _cleanup_free_ char *msg = nft_diagnostic(nft_ctx_get_error_buffer(ctx));
        r = berr_set(err, 0, "%s", *msg ? msg : "libnftables failed without a message");
    } else if (out) {
        const char *text = nft_ctx_get_output_buffer(ctx);
        *out = xstrdup(text ? text : "");
    }
    close(fd);
    nft_ctx_free(ctx);
    return r;
}
