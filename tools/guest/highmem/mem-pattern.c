/*
 * mem-pattern: a Linux user program that makes the guest use more memory than there is below
 * 4 GiB and checks that every page keeps what was written to it.
 *
 * Built by tools/guest/build with Debian's gcc-arm-none-eabi as a freestanding static Linux
 * executable (no C library: the system calls are made directly), like neon-sum. The guest's
 * /test/highmem.sh runs it on vexpress-a15 with 6 GiB (RAM at 0x80000000-0x17fffffff, so only
 * its first 2 GiB are below 4 GiB): two processes each map and touch CHUNKS x 256 MiB
 * (2 GiB), both hold it at once (4 GiB, so at least 2 GiB of it lies above 4 GiB, where
 * only LPAE reaches), then each reads it all back. Every 64-byte line of every page gets a
 * word that depends on the process and the word's index, so a page lost, swapped with
 * another or aliased onto a low address shows as an error. Output:
 *
 *   mem-pattern: 2 x 2048 MiB, errors 0, checksum XXXXXXXX
 *
 * the checksum being the sum (mod 2^32) over the processes of a hash (FNV-1a style, with a shift) of the
 * words each read back, in order: fixed by the pattern (see /test/highmem.sh).
 */
#include <stdint.h>

#define CHUNKS 8
#define CHUNK (256u << 20)
#define STRIDE 16 /* words: one per 64 bytes */
#define PROCS 2

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    register long r0 __asm__("r0") = a;
    register long r1 __asm__("r1") = b;
    register long r2 __asm__("r2") = c;
    register long r3 __asm__("r3") = d;
    register long r4 __asm__("r4") = e;
    register long r5 __asm__("r5") = f;
    register long r7 __asm__("r7") = nr;
    __asm__ volatile("svc #0" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r7) : "memory");
    return r0;
}

#define SYS_exit 1
#define SYS_fork 2
#define SYS_read 3
#define SYS_write 4
#define SYS_pipe 42
#define SYS_wait4 114
#define SYS_mmap2 192

static void put(const char *s, int n) { sys6(SYS_write, 1, (long)s, n, 0, 0, 0); }

static int put_dec(char *b, uint32_t v)
{
    char t[12];
    int n = 0, m = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        b[m++] = t[--n];
    return m;
}

static int put_str(char *b, const char *s)
{
    int n = 0;
    while (s[n]) {
        b[n] = s[n];
        n++;
    }
    return n;
}

static uint32_t pattern(uint32_t proc, uint32_t chunk, uint32_t i)
{
    uint32_t x = (proc << 28) ^ (chunk << 24) ^ i;
    return x * 2654435761u ^ 0x5a5a5a5au;
}

struct result {
    uint32_t errors;
    uint32_t sum;
};

static void fail(const char *why)
{
    char b[96];
    int n = put_str(b, "mem-pattern: ");
    n += put_str(b + n, why);
    b[n++] = '\n';
    put(b, n);
    sys6(SYS_exit, 2, 0, 0, 0, 0, 0);
}

/* One process: fill, say so on `up`, wait for a byte on `down`, check, report on `up`. */
static void child(uint32_t proc, int up, int down)
{
    uint32_t *chunk[CHUNKS];
    for (uint32_t c = 0; c < CHUNKS; c++) {
        long p = sys6(SYS_mmap2, 0, CHUNK, 3 /* PROT_READ|PROT_WRITE */,
                      0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
        if (p < 0 && p > -4096)
            fail("mmap failed");
        chunk[c] = (uint32_t *)p;
        for (uint32_t i = 0; i < CHUNK / 4; i += STRIDE)
            chunk[c][i] = pattern(proc, c, i);
    }
    char byte = 'F';
    sys6(SYS_write, up, (long)&byte, 1, 0, 0, 0);
    if (sys6(SYS_read, down, (long)&byte, 1, 0, 0, 0) != 1)
        fail("no go-ahead");
    struct result r = { 0, 0 };
    for (uint32_t c = 0; c < CHUNKS; c++) {
        for (uint32_t i = 0; i < CHUNK / 4; i += STRIDE) {
            uint32_t v = chunk[c][i];
            r.errors += v != pattern(proc, c, i);
            r.sum = (r.sum ^ v) * 16777619u;
            r.sum ^= r.sum >> 15;
        }
    }
    sys6(SYS_write, up, (long)&r, sizeof r, 0, 0, 0);
    sys6(SYS_exit, 0, 0, 0, 0, 0, 0);
}

void _start(void)
{
    int up[2], down[2];
    if (sys6(SYS_pipe, (long)up, 0, 0, 0, 0, 0) || sys6(SYS_pipe, (long)down, 0, 0, 0, 0, 0))
        fail("pipe failed");
    for (uint32_t p = 0; p < PROCS; p++) {
        long pid = sys6(SYS_fork, 0, 0, 0, 0, 0, 0);
        if (pid < 0)
            fail("fork failed");
        if (pid == 0)
            child(p, up[1], down[0]);
    }
    /* Both processes hold their memory: let them check it. */
    char byte;
    for (int p = 0; p < PROCS; p++)
        if (sys6(SYS_read, up[0], (long)&byte, 1, 0, 0, 0) != 1 || byte != 'F')
            fail("a process did not fill its memory");
    put("mem-pattern: both processes hold their memory\n", 47);
    for (int p = 0; p < PROCS; p++)
        sys6(SYS_write, down[1], (long)&byte, 1, 0, 0, 0);
    struct result total = { 0, 0 };
    for (int p = 0; p < PROCS; p++) {
        struct result r;
        if (sys6(SYS_read, up[0], (long)&r, sizeof r, 0, 0, 0) != sizeof r)
            fail("a process did not report");
        total.errors += r.errors;
        total.sum += r.sum;
    }
    for (int p = 0; p < PROCS; p++)
        sys6(SYS_wait4, -1, 0, 0, 0, 0, 0);
    char b[96];
    int n = put_str(b, "mem-pattern: ");
    n += put_dec(b + n, PROCS);
    n += put_str(b + n, " x ");
    n += put_dec(b + n, CHUNKS * (CHUNK >> 20));
    n += put_str(b + n, " MiB, errors ");
    n += put_dec(b + n, total.errors);
    n += put_str(b + n, ", checksum ");
    for (int i = 7; i >= 0; i--)
        b[n++] = "0123456789abcdef"[(total.sum >> (4 * i)) & 15];
    b[n++] = '\n';
    put(b, n);
    sys6(SYS_exit, total.errors ? 1 : 0, 0, 0, 0, 0, 0);
}
