/* printf.c — tiny printf and freestanding helpers (see printf.h). */
#include <stdarg.h>
#include "printf.h"
#include "semihost.h"

struct out {
    char buf[256];
    u32 len;
};

/* Flush the buffer with one SYS_WRITE0 (the buffer never holds a NUL). */
static void out_flush(struct out *o)
{
    if (o->len) {
        o->buf[o->len] = 0;
        sh_write0(o->buf);
        o->len = 0;
    }
}

static void out_char(struct out *o, char c)
{
    if (c == 0) {
        /* WRITE0 would stop at a NUL: send it on its own. */
        out_flush(o);
        sh_writec(0);
        return;
    }
    if (o->len >= sizeof(o->buf) - 1)
        out_flush(o);
    o->buf[o->len++] = c;
}

static void out_padded(struct out *o, const char *s, u32 n, int width, int left, char pad)
{
    int fill = width > (int)n ? width - (int)n : 0;
    if (!left)
        while (fill-- > 0)
            out_char(o, pad);
    for (u32 i = 0; i < n; i++)
        out_char(o, s[i]);
    if (left)
        while (fill-- > 0)
            out_char(o, ' ');
}

/* Unsigned decimal by repeated subtraction of powers of ten: no division. */
static u32 fmt_dec(char *p, u32 v)
{
    static const u32 pow10[] = { 1000000000u, 100000000u, 10000000u, 1000000u,
                                 100000u, 10000u, 1000u, 100u, 10u, 1u };
    u32 n = 0;
    for (u32 i = 0; i < ARRAY_SIZE(pow10); i++) {
        char d = '0';
        while (v >= pow10[i]) {
            v -= pow10[i];
            d++;
        }
        if (d != '0' || n || i == ARRAY_SIZE(pow10) - 1)
            p[n++] = d;
    }
    return n;
}

static u32 fmt_hex(char *p, u32 v, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    u32 n = 0;
    int started = 0;
    for (int sh = 28; sh >= 0; sh -= 4) {
        u32 d = (v >> sh) & 0xf;
        if (d || started || sh == 0) {
            p[n++] = digits[d];
            started = 1;
        }
    }
    return n;
}

static void out_vformat(struct out *o, const char *fmt, va_list ap)
{
    char tmp[12];
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            out_char(o, *fmt);
            continue;
        }
        fmt++;
        int left = 0, plus = 0;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '+')
                plus = 1;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'd': {
            s32 v = va_arg(ap, s32);
            u32 n = 0;
            if (v < 0) {
                tmp[n++] = '-';
                n += fmt_dec(tmp + n, 0u - (u32)v);
            } else {
                if (plus)
                    tmp[n++] = '+';
                n += fmt_dec(tmp + n, (u32)v);
            }
            if (pad == '0' && (tmp[0] == '-' || tmp[0] == '+') && !left) {
                out_char(o, tmp[0]);
                out_padded(o, tmp + 1, n - 1, width - 1, 0, '0');
            } else {
                out_padded(o, tmp, n, width, left, pad);
            }
            break;
        }
        case 'u':
            out_padded(o, tmp, fmt_dec(tmp, va_arg(ap, u32)), width, left, pad);
            break;
        case 'x':
        case 'X':
            out_padded(o, tmp, fmt_hex(tmp, va_arg(ap, u32), *fmt == 'X'), width, left, pad);
            break;
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            out_padded(o, tmp, 1, width, left, ' ');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            out_padded(o, s, strlen(s), width, left, ' ');
            break;
        }
        case '%':
            out_char(o, '%');
            break;
        case 0:
            return;
        default: /* unknown conversion: print it literally */
            out_char(o, '%');
            out_char(o, *fmt);
            break;
        }
    }
}

int printf(const char *fmt, ...)
{
    struct out o;
    o.len = 0;
    va_list ap;
    va_start(ap, fmt);
    out_vformat(&o, fmt, ap);
    va_end(ap);
    out_flush(&o);
    return 0;
}

int puts(const char *s)
{
    sh_write0(s);
    sh_writec('\n');
    return 0;
}

int putchar(int c)
{
    sh_writec((char)c);
    return c;
}

void exit(int status)
{
    sh_exit_extended((u32)status);
}

/* The helpers below must not be turned back into calls to themselves. */
#define NO_LOOP_PATTERNS __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LOOP_PATTERNS void *memcpy(void *dst, const void *src, size_t n)
{
    u8 *d = dst;
    const u8 *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

NO_LOOP_PATTERNS void *memmove(void *dst, const void *src, size_t n)
{
    u8 *d = dst;
    const u8 *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

NO_LOOP_PATTERNS void *memset(void *dst, int c, size_t n)
{
    u8 *d = dst;
    while (n--)
        *d++ = (u8)c;
    return dst;
}

NO_LOOP_PATTERNS int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

NO_LOOP_PATTERNS size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
