#include "runtime-agent/runtime/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth/util.h"

static const char *const names[] = {
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
};
#define N_NAMES ((int)(sizeof(names) / sizeof(names[0])))

int caps_from_name(const char *name)
{
    const char *p = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;

    for (int i = 0; i < N_NAMES && i <= caps_last(); i++)
        if (strcasecmp(names[i], p) == 0)
            return i;
    return -1;
}

int caps_last(void)
{
    static int last = -1;
    char *text = NULL;
    berr_t err = NULL;

    if (last >= 0)
        return last;
    if (read_file("/proc/sys/kernel/cap_last_cap", &text, NULL, &err) == 0)
        last = atoi(text);
    berr_free(&err);
    free(text);
    if (last <= 0 || last > 63)
        last = N_NAMES - 1;
    return last;
}

uint64_t caps_all(void)
{
    int last = caps_last();
    return last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
}

int caps_drop_bounding(uint64_t caps, berr_t *err)
{
    for (int i = 0; i <= caps_last(); i++)
        if (!(caps & (1ULL << i)) && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0)
            return berr_set(err, errno, "capabilities: drop %d from the bounding set", i);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return berr_set(err, errno, "capabilities: clear the ambient set");
    return 0;
}

int caps_set(uint64_t caps, berr_t *err)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2] = {{0}};

    /* Only what this process holds can be kept: a host (or an outer container) may lack
     * some, and asking for more than the permitted set fails with EPERM. */
    if (syscall(SYS_capget, &hdr, data) < 0)
        return berr_set(err, errno, "capabilities: get");
    caps &= (uint64_t)data[1].permitted << 32 | data[0].permitted;
    data[0].inheritable = data[1].inheritable = 0;
    data[0].effective = data[0].permitted = (uint32_t)caps;
    data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0)
        return berr_set(err, errno, "capabilities: set");
    return 0;
}
