/*
 * printf.h — a tiny printf that writes through semihosting.
 *
 * Supports %d %u %x %X %s %c %% with optional '-', '0' and '+' (for %d)
 * flags and a width (e.g. %08x, %-12s, %+d). No floating point, no 64-bit
 * conversions (print 64-bit values as two %08x halves). Decimal conversion
 * uses no division, so programs built in ARM state do not pull in libgcc's
 * Thumb-2 helpers.
 * Each call is sent to the console with one SYS_WRITE0.
 */
#ifndef ARMVEX_PRINTF_H
#define ARMVEX_PRINTF_H

#include "types.h"

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);          /* writes s and a newline */
int putchar(int c);

/* Exit through SYS_EXIT_EXTENDED with the given status. */
void exit(int status) __attribute__((noreturn));

/* Freestanding replacements for the few libc functions GCC may call. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
