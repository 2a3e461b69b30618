/* test_nft.c's tests against berthd-static's backend (runtime-agent/static/nft_exec.c, which
 * pipes scripts to nft(8)), included here so its nft_backend_run takes the place of
 * libnftables' one in libberthd.a; plus the message when nft(8) is missing. */
#define NFT_TEST_EXEC
#include "runtime-agent/static/nft_exec.c"
#include "tests/unit/test_nft.c"
