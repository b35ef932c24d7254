/*
 * callgrind-on-first-line.c — start callgrind's instrumentation at the guest's first console line.
 *
 * tools/bench-all --callgrind preloads this into armvex (LD_PRELOAD) when it measures a Linux
 * boot: valgrind --tool=callgrind --instr-atstart=no runs armvex about eight times faster while
 * nothing is instrumented, so the boot can get past the zImage decompressor and the kernel's
 * early setup in a minute or two; at the first write() to standard output that contains a
 * newline — the kernel's first console line, which armvex's PL011 writes and flushes on the CPU
 * thread as the guest stores the newline — this switches instrumentation on and zeroes the
 * counters. armvex is deterministic, so the switch happens at the same guest instruction on
 * every run and the host instruction count that callgrind reports is the same every run.
 *
 * Build: cc -shared -fPIC -O2 -o callgrind-on-first-line.so callgrind-on-first-line.c -ldl
 * (needs valgrind's headers, <valgrind/callgrind.h>, from Debian's valgrind package).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

static int started;

ssize_t write(int fd, const void *buf, size_t count)
{
    static ssize_t (*real_write)(int, const void *, size_t);
    if (!real_write)
        real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (!started && fd == 1 && memchr(buf, '\n', count)) {
        started = 1;
        CALLGRIND_ZERO_STATS;
        CALLGRIND_START_INSTRUMENTATION;
    }
    return real_write(fd, buf, count);
}
