/*
 * bench.c — integer compute benchmark for armvex vs QEMU.
 *
 * Four kernels over pseudo-random data (xorshift32, fixed seed):
 *   crc32   table-driven CRC-32 (IEEE, reflected) over a 64 KiB buffer
 *   sort    quicksort (with insertion sort for short runs) of 16K words
 *   matmul  64x64 integer matrix multiply, result fed back as next input
 *   hash    open-addressing hash table: insert 32K keys, look up 64K
 * Each kernel folds its results into a checksum; the program prints one
 * line per kernel and a final checksum, identical for every correct
 * emulator and for the ARM and Thumb-2 builds.
 *
 * No division or modulo on variables (power-of-two sizes and masks), so
 * the ARM build runs ARM code only (libgcc's helpers are Thumb-2).
 *
 * Size: 1.000e9 instructions for the ARM build (crc32 250.1M, sort 249.1M,
 * matmul 249.9M, hash 251.3M) and 1.008e9 for the Thumb-2 build, measured
 * with `tools/bench --count` (QEMU 7.2, -icount shift=0; see BENCH_ICOUNT
 * below). The kernels are noinline so the counting build runs exactly the
 * same kernel code. QEMU 7.2 runs either build in about 1.5 s on a 2-core
 * x86-64 host.
 */
#include "types.h"
#include "printf.h"

/* Repetition counts: tune these to keep the total near 1e9 instructions. */
#define CRC_PASSES 545
#define SORT_ROUNDS 103
#define MATMUL_ROUNDS 152
#define HASH_ROUNDS 82

static u32 rng_state = 0x2545f491;

static inline u32 rng(void)
{
    u32 x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* ---- Instruction counting (only in the -DBENCH_ICOUNT build) ----
 * Run under QEMU with -icount shift=0, where each instruction advances the
 * virtual clock by exactly 1 ns, and read the board's 24 MHz counter
 * (SYS_24MHZ in the V2M system registers, which QEMU derives from the
 * virtual clock): instructions = ticks * 1000 / 24. The CPU's PMU cannot
 * be used: QEMU starts us in Secure state, where ARMv7 prohibits PMU
 * counting. tools/bench --count does the conversion. */
#ifdef BENCH_ICOUNT
static u32 ticks24(void)
{
    return *(volatile u32 *)(SYSREGS_BASE + 0x5c);
}

static u32 last_ticks;
static inline void icount_start(void)
{
    last_ticks = ticks24();
}

static __attribute__((noinline)) void icount_report(const char *what)
{
    u32 t = ticks24();
    printf("icount %s ticks24=%u\n", what, t - last_ticks);
    last_ticks = ticks24(); /* semihosting I/O is not counted */
}
#else
static inline void icount_start(void) {}
static inline void icount_report(const char *what) { (void)what; }
#endif

/* ---- crc32 ---- */
static u32 crc_table[256];
static u8 crc_buf[64 * 1024];

/* noinline keeps the kernels identical in the counting build */
static __attribute__((noinline)) u32 bench_crc32(void)
{
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        crc_table[i] = c;
    }
    for (u32 i = 0; i < sizeof(crc_buf); i += 4) {
        u32 r = rng();
        crc_buf[i] = (u8)r;
        crc_buf[i + 1] = (u8)(r >> 8);
        crc_buf[i + 2] = (u8)(r >> 16);
        crc_buf[i + 3] = (u8)(r >> 24);
    }
    u32 acc = 0;
    for (int pass = 0; pass < CRC_PASSES; pass++) {
        u32 crc = 0xffffffff;
        for (u32 i = 0; i < sizeof(crc_buf); i++)
            crc = crc_table[(crc ^ crc_buf[i]) & 0xff] ^ (crc >> 8);
        crc = ~crc;
        acc = (acc << 1 | acc >> 31) ^ crc;
        crc_buf[pass & (sizeof(crc_buf) - 1)] ^= (u8)crc; /* next pass differs */
    }
    return acc;
}

/* ---- sort ---- */
#define SORT_N (16 * 1024)
static u32 sort_buf[SORT_N];

static void insertion_sort(u32 *a, int lo, int hi)
{
    for (int i = lo + 1; i <= hi; i++) {
        u32 v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void quicksort(u32 *a, int lo, int hi)
{
    while (hi - lo > 16) {
        /* median of three */
        int mid = lo + ((hi - lo) >> 1);
        u32 x = a[lo], y = a[mid], z = a[hi];
        u32 pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                u32 t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        /* recurse into the smaller part, loop on the larger */
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

static __attribute__((noinline)) u32 bench_sort(void)
{
    u32 acc = 0;
    for (int round = 0; round < SORT_ROUNDS; round++) {
        for (u32 i = 0; i < SORT_N; i++)
            sort_buf[i] = rng() >> (round & 7); /* vary the value range: more duplicates */
        quicksort(sort_buf, 0, SORT_N - 1);
        u32 ok = 1, sum = 0;
        for (u32 i = 1; i < SORT_N; i++)
            ok &= sort_buf[i - 1] <= sort_buf[i];
        for (u32 i = 0; i < SORT_N; i += 61)
            sum = sum * 31 + sort_buf[i];
        acc = (acc << 3 | acc >> 29) ^ sum ^ (ok ? 0 : 0xdead0000);
    }
    return acc;
}

/* ---- matmul ---- */
#define MN 64
static u32 ma[MN][MN], mb[MN][MN], mc[MN][MN];

static __attribute__((noinline)) u32 bench_matmul(void)
{
    for (u32 i = 0; i < MN; i++)
        for (u32 j = 0; j < MN; j++) {
            ma[i][j] = rng() & 0xffff;
            mb[i][j] = rng() & 0xffff;
        }
    u32 acc = 0;
    for (int round = 0; round < MATMUL_ROUNDS; round++) {
        for (u32 i = 0; i < MN; i++)
            for (u32 j = 0; j < MN; j++) {
                u32 s = 0;
                for (u32 k = 0; k < MN; k++)
                    s += ma[i][k] * mb[k][j];
                mc[i][j] = s;
            }
        u32 sum = 0;
        for (u32 i = 0; i < MN; i++)
            for (u32 j = 0; j < MN; j++) {
                sum ^= mc[i][j] + i * 7 + j;
                ma[i][j] = (mc[i][j] >> 7) & 0xffff; /* feed back, keep small */
            }
        acc = (acc << 5 | acc >> 27) + sum;
    }
    return acc;
}

/* ---- hash ---- */
#define HBITS 16
#define HSIZE (1u << HBITS)
static u32 hkeys[HSIZE], hvals[HSIZE];

static inline u32 mix(u32 k)
{
    k ^= k >> 16;
    k *= 0x85ebca6bu;
    k ^= k >> 13;
    k *= 0xc2b2ae35u;
    k ^= k >> 16;
    return k;
}

static __attribute__((noinline)) u32 bench_hash(void)
{
    u32 acc = 0;
    for (int round = 0; round < HASH_ROUNDS; round++) {
        for (u32 i = 0; i < HSIZE; i++)
            hkeys[i] = 0; /* 0 = empty slot; keys are never 0 */
        u32 seed = rng();
        /* insert HSIZE/2 keys (load factor 0.5) */
        for (u32 i = 0; i < HSIZE / 2; i++) {
            u32 key = mix(seed + i) | 1;
            u32 h = mix(key) & (HSIZE - 1);
            while (hkeys[h] != 0 && hkeys[h] != key)
                h = (h + 1) & (HSIZE - 1);
            hkeys[h] = key;
            hvals[h] = i;
        }
        /* look up the inserted keys and as many absent ones */
        u32 found = 0, vsum = 0;
        for (u32 i = 0; i < HSIZE; i++) {
            u32 key = (i & 1) ? mix(seed + (i >> 1)) | 1 : mix((seed ^ 0x5bd1e995) + i) | 1;
            u32 h = mix(key) & (HSIZE - 1);
            while (hkeys[h] != 0) {
                if (hkeys[h] == key) {
                    found++;
                    vsum += hvals[h];
                    break;
                }
                h = (h + 1) & (HSIZE - 1);
            }
        }
        acc = (acc << 7 | acc >> 25) ^ (found * 0x9e3779b9u) ^ vsum;
    }
    return acc;
}

int main(void)
{
    icount_start();
    u32 c1 = bench_crc32();
    icount_report("crc32");
    printf("crc32   %08x\n", c1);
    u32 c2 = bench_sort();
    icount_report("sort");
    printf("sort    %08x\n", c2);
    u32 c3 = bench_matmul();
    icount_report("matmul");
    printf("matmul  %08x\n", c3);
    u32 c4 = bench_hash();
    icount_report("hash");
    printf("hash    %08x\n", c4);
    u32 sum = c1 ^ (c2 << 1 | c2 >> 31) ^ (c3 << 2 | c3 >> 30) ^ (c4 << 3 | c4 >> 29);
    printf("checksum: %08x\n", sum);
    return 0;
}
