/*
 * neon-sum: a Linux user program that exercises Advanced SIMD (NEON) and prints a checksum.
 *
 * Built by tools/guest/build with Debian's gcc-arm-none-eabi as a freestanding static
 * Linux executable (no C library: the write and exit system calls are made directly), once
 * for ARM and once for Thumb (-mthumb), both with -mfpu=neon -mfloat-abi=hard. The guest's
 * /test/neon.sh runs both: each must print the same checksum, the one QEMU's Cortex-A9 and
 * Cortex-A15 give (see that script).
 *
 * The work touches every kind of NEON instruction a compiler or a hand-written library
 * emits: loads and stores of single registers, of Q registers and of interleaved structures
 * (VLD3/VST3), lane-wise integer arithmetic, widening pairwise adds, multiply-accumulate,
 * saturating arithmetic (which sets FPSCR.QC), shifts, table lookups (VTBL), VEXT, VREV,
 * VCNT, comparisons and bit selects, single-precision arithmetic under the Standard FPSCR
 * value (flush-to-zero), the reciprocal estimate and step, and conversions.
 */
#include <arm_neon.h>
#include <stdint.h>

#define N 4096

static uint8_t src[N] __attribute__((aligned(16)));
static uint8_t dst[N] __attribute__((aligned(16)));
static float fsrc[N / 4] __attribute__((aligned(16)));

static long sys_call3(long nr, long a, long b, long c)
{
    register long r0 __asm__("r0") = a;
    register long r1 __asm__("r1") = b;
    register long r2 __asm__("r2") = c;
    register long r7 __asm__("r7") = nr;
    __asm__ volatile("svc #0" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7) : "memory");
    return r0;
}

static void put(const char *s, int n) { sys_call3(4, 1, (long)s, n); }

static void put_hex(const char *label, uint32_t v)
{
    char buf[64];
    int n = 0;
    while (*label)
        buf[n++] = *label++;
    for (int i = 7; i >= 0; i--)
        buf[n++] = "0123456789abcdef"[(v >> (4 * i)) & 15];
    buf[n++] = '\n';
    put(buf, n);
}

/* A 32-bit mix of the running checksum with a new word (FNV-1a style, on words). */
static uint32_t mix(uint32_t h, uint32_t v) { return (h ^ v) * 16777619u; }

static uint32_t mix_q(uint32_t h, uint32x4_t v)
{
    h = mix(h, vgetq_lane_u32(v, 0));
    h = mix(h, vgetq_lane_u32(v, 1));
    h = mix(h, vgetq_lane_u32(v, 2));
    return mix(h, vgetq_lane_u32(v, 3));
}

static uint32_t work(void)
{
    uint32_t h = 2166136261u, x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        src[i] = (uint8_t)(x >> 16);
    }
    for (int i = 0; i < N / 4; i++) {
        x = x * 1103515245u + 12345u;
        /* Values from tiny (denormal: flushed) to large, both signs. */
        union { uint32_t u; float f; } c = { (x & 0x807fffffu) | (((x >> 8) % 200u + 1u) << 23) };
        if (i % 37 == 0)
            c.u &= 0x807fffffu; /* a denormal or zero */
        fsrc[i] = c.f;
    }

    /* Byte lanes: add, widening pairwise sums, multiply-accumulate. */
    uint32x4_t acc = vdupq_n_u32(0);
    uint8x16_t k = vdupq_n_u8(0x5a);
    for (int i = 0; i < N; i += 16) {
        uint8x16_t a = vld1q_u8(src + i);
        uint8x16_t b = vaddq_u8(a, k);
        k = veorq_u8(k, vshrq_n_u8(a, 3));
        uint16x8_t s16 = vpaddlq_u8(b);
        acc = vmlaq_n_u32(acc, vpaddlq_u16(s16), (uint32_t)i + 1u);
        vst1q_u8(dst + i, vrev32q_u8(b));
    }
    h = mix_q(h, acc);

    /* Saturating halfword arithmetic (FPSCR.QC) and shifts. */
    int16x8_t sat = vdupq_n_s16(0);
    for (int i = 0; i < N; i += 16) {
        int16x8_t w = vreinterpretq_s16_u8(vld1q_u8(dst + i));
        sat = vqaddq_s16(sat, vqshlq_n_s16(w, 3));
        sat = vrshrq_n_s16(sat, 1);
    }
    h = mix_q(h, vreinterpretq_u32_s16(sat));

    /* Interleaved structures: split RGB triples, swap channels, store them back. */
    for (int i = 0; i + 24 <= N; i += 24) {
        uint8x8x3_t rgb = vld3_u8(src + i);
        uint8x8_t t = rgb.val[0];
        rgb.val[0] = rgb.val[2];
        rgb.val[2] = vhadd_u8(t, rgb.val[1]);
        vst3_u8(dst + i, rgb);
    }

    /* Table lookups, VEXT, VCNT, comparisons and bit select. */
    uint8x8_t table = vld1_u8(src + 100);
    uint32x2_t acc2 = vdup_n_u32(0);
    for (int i = 0; i + 16 <= N; i += 8) {
        uint8x8_t idx = vand_u8(vld1_u8(dst + i), vdup_n_u8(15));
        uint8x8_t looked = vtbl1_u8(table, idx); /* indices 8-15 give 0 */
        uint8x8_t ext = vext_u8(vld1_u8(dst + i), vld1_u8(dst + i + 8), 3);
        uint8x8_t mask = vcgt_u8(looked, ext);
        uint8x8_t pick = vbsl_u8(mask, looked, vcnt_u8(ext));
        acc2 = vpadal_u16(acc2, vpaddl_u8(pick));
    }
    h = mix(h, vget_lane_u32(acc2, 0));
    h = mix(h, vget_lane_u32(acc2, 1));

    /* Single precision: multiply-add, reciprocal estimate and Newton-Raphson steps, and
     * conversion to integers (round towards zero, saturating). */
    float32x4_t facc = vdupq_n_f32(0.0f);
    for (int i = 0; i < N / 4; i += 4) {
        float32x4_t v = vld1q_f32(fsrc + i);
        float32x4_t r = vrecpeq_f32(v);
        r = vmulq_f32(r, vrecpsq_f32(v, r));
        r = vmulq_f32(r, vrecpsq_f32(v, r));
        facc = vmlaq_f32(facc, r, vdupq_n_f32(0.5f));
        h = mix_q(h, vreinterpretq_u32_f32(r));
        h = mix_q(h, vreinterpretq_u32_s32(vcvtq_s32_f32(vmulq_n_f32(v, 1024.0f))));
    }
    h = mix_q(h, vreinterpretq_u32_f32(facc));

    for (int i = 0; i < N; i += 4)
        h = mix(h, *(const uint32_t *)(dst + i));

    /* FPSCR, for QC (bit 27) and the cumulative flags NEON's float arithmetic set. */
    uint32_t fpscr;
    __asm__ volatile("vmrs %0, fpscr" : "=r"(fpscr));
    put_hex("neon-sum: fpscr ", fpscr);
    return h;
}

void __attribute__((noreturn, used)) neon_main(void)
{
    put_hex("neon-sum: checksum ", work());
    sys_call3(248, 0, 0, 0); /* exit_group(0) */
    for (;;)
        ;
}

/* The entry point, in ARM state whatever the rest is built for (Linux enters at e_entry in
 * ARM state unless its bit 0 is set): align the stack for NEON spills, call neon_main (the
 * linker makes the BL a BLX when neon_main is Thumb code). */
__asm__(".pushsection .text._start, \"ax\", %progbits\n"
        ".arm\n"
        ".globl _start\n"
        ".type _start, %function\n"
        "_start:\n"
        "  mov r0, sp\n"
        "  bic r0, r0, #15\n"
        "  mov sp, r0\n"
        "  bl neon_main\n"
        ".popsection\n");
