/*
 * semihost.h — ARM semihosting calls as small inline functions.
 *
 * Semihosting lets a bare-metal program use the host's console and clock
 * through a special trap: in ARM state `SVC #0x123456`, in Thumb state
 * `SVC #0xAB`, with the operation number in r0 and a pointer to a parameter
 * block (or a single value) in r1; the result comes back in r0.
 * Reference: "Semihosting for AArch32 and AArch64", release 2.0
 * (github.com/ARM-software/abi-aa, semihosting/semihosting.rst).
 *
 * QEMU (`-semihosting`) and armvex (`--semihosting`) both intercept the trap
 * in privileged modes only: from User mode the SVC is a real SVC exception.
 */
#ifndef ARMVEX_SEMIHOST_H
#define ARMVEX_SEMIHOST_H

#include "types.h"

/* Operation numbers (r0). */
#define SYS_OPEN          0x01
#define SYS_CLOSE         0x02
#define SYS_WRITEC        0x03
#define SYS_WRITE0        0x04
#define SYS_WRITE         0x05
#define SYS_READ          0x06
#define SYS_READC         0x07
#define SYS_ISERROR       0x08
#define SYS_ISTTY         0x09
#define SYS_SEEK          0x0a
#define SYS_FLEN          0x0c
#define SYS_CLOCK         0x10
#define SYS_TIME          0x11
#define SYS_ERRNO         0x13
#define SYS_GET_CMDLINE   0x15
#define SYS_HEAPINFO      0x16
#define SYS_EXIT          0x18
#define SYS_EXIT_EXTENDED 0x20

/* Reason codes for SYS_EXIT / SYS_EXIT_EXTENDED. */
#define ADP_Stopped_ApplicationExit 0x20026
#define ADP_Stopped_RunTimeError    0x20023

/* SYS_OPEN modes: index into {"r","rb","r+","r+b","w","wb","w+","w+b","a",...}.
 * Opening the special name ":tt" with a read mode gives the console input,
 * with a write mode the console output, with an append mode stderr. */
#define SH_OPEN_R  0
#define SH_OPEN_W  4
#define SH_OPEN_A  8

/* The trap itself. r1 is declared as read-write because the spec only
 * promises r0 as the result; "memory" because the host reads and writes
 * guest memory through the parameter block. */
static inline int semihost_call(u32 op, const void *arg)
{
    register u32 r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
#if defined(__thumb__)
    __asm__ volatile("svc 0xab" : "+r"(r0), "+r"(r1) : : "memory");
#else
    __asm__ volatile("svc 0x123456" : "+r"(r0), "+r"(r1) : : "memory");
#endif
    return (int)r0;
}

/* Write a NUL-terminated string to the console. */
static inline void sh_write0(const char *s)
{
    semihost_call(SYS_WRITE0, s);
}

/* Write one character to the console (r1 points at the character). */
static inline void sh_writec(char c)
{
    semihost_call(SYS_WRITEC, &c);
}

/* Open a host file (or ":tt"); returns a handle, or -1 on error. */
static inline int sh_open(const char *name, u32 mode)
{
    u32 len = 0;
    while (name[len])
        len++;
    u32 block[3] = { (u32)name, mode, len };
    return semihost_call(SYS_OPEN, block);
}

/* Close a handle; returns 0 on success, -1 on error. */
static inline int sh_close(int fh)
{
    u32 block[1] = { (u32)fh };
    return semihost_call(SYS_CLOSE, block);
}

/* Write len bytes; returns the number of bytes NOT written (0 = success). */
static inline int sh_write(int fh, const void *buf, u32 len)
{
    u32 block[3] = { (u32)fh, (u32)buf, len };
    return semihost_call(SYS_WRITE, block);
}

/* Read len bytes; returns the number of bytes NOT read (len = EOF), or -1. */
static inline int sh_read(int fh, void *buf, u32 len)
{
    u32 block[3] = { (u32)fh, (u32)buf, len };
    return semihost_call(SYS_READ, block);
}

/* Read one character from the console (blocks until one is available). */
static inline int sh_readc(void)
{
    return semihost_call(SYS_READC, 0);
}

/* Nonzero if status (a previous call's return value) denotes an error. */
static inline int sh_iserror(int status)
{
    u32 block[1] = { (u32)status };
    return semihost_call(SYS_ISERROR, block);
}

/* 1 if the handle is an interactive device, 0 if not, -1 on error. */
static inline int sh_istty(int fh)
{
    u32 block[1] = { (u32)fh };
    return semihost_call(SYS_ISTTY, block);
}

/* The host errno of the last failed call. */
static inline int sh_errno(void)
{
    return semihost_call(SYS_ERRNO, 0);
}

/* Copy the command line into buf (size bytes). Returns 0 on success and sets
 * *len to the string length, or -1 if the buffer is too small. */
static inline int sh_get_cmdline(char *buf, u32 size, u32 *len)
{
    u32 block[2] = { (u32)buf, size };
    int r = semihost_call(SYS_GET_CMDLINE, block);
    if (len)
        *len = block[1];
    return r;
}

/* Heap and stack placement as chosen by the debugger/emulator. */
struct sh_heapinfo {
    u32 heap_base, heap_limit, stack_base, stack_limit;
};

static inline void sh_heapinfo(struct sh_heapinfo *hi)
{
    struct sh_heapinfo *p = hi;
    semihost_call(SYS_HEAPINFO, &p);
}

/* Centiseconds since the program started (host dependent; never print it). */
static inline int sh_clock(void)
{
    return semihost_call(SYS_CLOCK, 0);
}

/* Seconds since 1970 (host dependent; never print it). */
static inline int sh_time(void)
{
    return semihost_call(SYS_TIME, 0);
}

/* Stop with a reason code; ADP_Stopped_ApplicationExit means success. */
static inline __attribute__((noreturn)) void sh_exit(u32 reason)
{
    semihost_call(SYS_EXIT, (const void *)reason);
    for (;;)
        ;
}

/* Stop with ApplicationExit and an exit status (semihosting v2). */
static inline __attribute__((noreturn)) void sh_exit_extended(u32 code)
{
    u32 block[2] = { ADP_Stopped_ApplicationExit, code };
    semihost_call(SYS_EXIT_EXTENDED, block);
    for (;;)
        ;
}

#endif
