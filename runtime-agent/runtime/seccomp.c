#include "runtime-agent/runtime/seccomp.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

#define ALWAYS (-1)

/* Denied unless the capability is held (ALWAYS: denied for every unprivileged container). */
static const struct {
    const char *name;
    int cap;
} denied[] = {
    {"acct", CAP_SYS_PACCT},
    {"add_key", ALWAYS},
    {"bpf", CAP_SYS_ADMIN},
    {"clock_adjtime", CAP_SYS_TIME},
    {"clock_settime", CAP_SYS_TIME},
    {"create_module", ALWAYS},
    {"delete_module", CAP_SYS_MODULE},
    {"finit_module", CAP_SYS_MODULE},
    {"fsconfig", CAP_SYS_ADMIN},
    {"fsmount", CAP_SYS_ADMIN},
    {"fsopen", CAP_SYS_ADMIN},
    {"fspick", CAP_SYS_ADMIN},
    {"get_kernel_syms", ALWAYS},
    {"init_module", CAP_SYS_MODULE},
    {"ioperm", CAP_SYS_RAWIO},
    {"iopl", CAP_SYS_RAWIO},
    {"kcmp", CAP_SYS_PTRACE},
    {"kexec_file_load", CAP_SYS_BOOT},
    {"kexec_load", CAP_SYS_BOOT},
    {"keyctl", ALWAYS},
    {"lookup_dcookie", CAP_SYS_ADMIN},
    {"mount", CAP_SYS_ADMIN},
    {"mount_setattr", CAP_SYS_ADMIN},
    {"move_mount", CAP_SYS_ADMIN},
    {"name_to_handle_at", CAP_SYS_ADMIN},
    {"nfsservctl", ALWAYS},
    {"open_by_handle_at", CAP_DAC_READ_SEARCH},
    {"open_tree", CAP_SYS_ADMIN},
    {"perf_event_open", CAP_SYS_ADMIN},
    {"pivot_root", CAP_SYS_ADMIN},
    {"process_vm_readv", CAP_SYS_PTRACE},
    {"process_vm_writev", CAP_SYS_PTRACE},
    {"ptrace", CAP_SYS_PTRACE},
    {"query_module", ALWAYS},
    {"quotactl", CAP_SYS_ADMIN},
    {"reboot", CAP_SYS_BOOT},
    {"request_key", ALWAYS},
    {"setns", CAP_SYS_ADMIN},
    {"settimeofday", CAP_SYS_TIME},
    {"stime", CAP_SYS_TIME},
    {"swapoff", CAP_SYS_ADMIN},
    {"swapon", CAP_SYS_ADMIN},
    {"_sysctl", ALWAYS},
    {"sysfs", ALWAYS},
    {"syslog", CAP_SYSLOG},
    {"umount", CAP_SYS_ADMIN},
    {"umount2", CAP_SYS_ADMIN},
    {"unshare", CAP_SYS_ADMIN},
    {"uselib", ALWAYS},
    {"userfaultfd", CAP_SYS_PTRACE},
    {"ustat", ALWAYS},
    {"vhangup", CAP_SYS_TTY_CONFIG},
    {"vm86", ALWAYS},
    {"vm86old", ALWAYS},
};

static const unsigned long ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                         CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

static bool has(uint64_t caps, int cap)
{
    return cap != ALWAYS && (caps & (1ULL << cap)) != 0;
}

static int add_arches(scmp_filter_ctx ctx)
{
    int rc = 0;
#if defined(__x86_64__)
    rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
    if (rc == 0)
        rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
#elif defined(__aarch64__)
    rc = seccomp_arch_add(ctx, SCMP_ARCH_ARM);
#endif
    return rc;
}

/* clone can create namespaces: deny each namespace flag; clone3 hides its flags in memory, so
 * it answers ENOSYS and the C library falls back to clone. */
static int add_clone_rules(scmp_filter_ctx ctx)
{
    int rc;

    for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
        if (rc < 0)
            return rc;
    }
    int nr = seccomp_syscall_resolve_name("clone3");
    return nr == __NR_SCMP_ERROR ? 0 : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
}

/* Returns 0 or libseccomp's negative errno. */
static int build(scmp_filter_ctx ctx, uint64_t caps)
{
    int rc = add_arches(ctx);

    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (size_t i = 0; rc == 0 && i < sizeof(denied) / sizeof(denied[0]); i++) {
        int nr = seccomp_syscall_resolve_name(denied[i].name);
        if (nr != __NR_SCMP_ERROR && !has(caps, denied[i].cap))
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    if (rc == 0 && !has(caps, CAP_SYS_ADMIN))
        rc = add_clone_rules(ctx);
    return rc;
}

int seccomp_apply_default(uint64_t caps, berr_t *err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc;

    if (ctx == NULL)
        return berr_set(err, ENOMEM, "seccomp: create filter");
    rc = build(ctx, caps);
    if (rc < 0) {
        seccomp_release(ctx);
        return berr_set(err, -rc, "seccomp: build the default profile");
    }
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0)
        return berr_set(err, -rc, "seccomp: load the default profile");
    return 0;
}
