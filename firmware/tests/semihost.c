/*
 * semihost.c — the semihosting calls themselves.
 *
 * Prints only deterministic values: console handles, ISTTY/ISERROR
 * results, error paths (bad handle, GET_CMDLINE with a too-small buffer),
 * the command line's last path component, HEAPINFO. SYS_CLOCK and SYS_TIME
 * depend on the host, so only "no error" is printed for them. SYS_READC and
 * reads from ":tt" would block for input, so they are not called.
 */
#include "test.h"

static const char *basename(const char *s)
{
    const char *b = s;
    for (; *s; s++)
        if (*s == '/')
            b = s + 1;
    return b;
}

int main(void)
{
    /* WRITE0 and WRITEC */
    sh_write0("write0: hello\n");
    sh_write0("writec: ");
    sh_writec('o');
    sh_writec('k');
    sh_writec('\n');

    /* OPEN ":tt": read mode = console input, write = output, append = stderr */
    int in = sh_open(":tt", SH_OPEN_R);
    int out = sh_open(":tt", SH_OPEN_W);
    int err = sh_open(":tt", SH_OPEN_A);
    printf("open :tt r=%d w=%d a=%d\n", in, out, err);

    /* WRITE returns the number of bytes not written */
    static const char msg[] = "write: through a :tt handle\n";
    int r = sh_write(out, msg, sizeof(msg) - 1);
    printf("write -> %d\n", r);
    r = sh_write(out, "partial\n", 4);
    sh_writec('\n');
    printf("write 4 of 8 -> %d\n", r);
    r = sh_write(out, msg, 0);
    printf("write 0 bytes -> %d\n", r);
    r = sh_write(err, "append-mode :tt line\n", 21);
    printf("write(err) -> %d\n", r);

    printf("istty(out) = %d, istty(in) = %d\n", sh_istty(out), sh_istty(in));

    /* ISERROR classifies return values */
    printf("iserror(0)=%d iserror(1)=%d iserror(-1)=%d iserror(0x7fffffff)=%d\n",
           sh_iserror(0), sh_iserror(1), sh_iserror(-1), sh_iserror(0x7fffffff));

    /* Error paths on a handle that was never opened */
    r = sh_write(1234, msg, 4);
    printf("write(bad handle) -> %d iserror=%d\n", r, sh_iserror(r));
    char buf[16];
    r = sh_read(1234, buf, 4);
    printf("read(bad handle) -> %d iserror=%d\n", r, sh_iserror(r));
    r = sh_istty(1234);
    printf("istty(bad handle) -> %d\n", r);
    r = sh_close(1234);
    printf("close(bad handle) -> %d\n", r);

    /* Close the handles; a second close fails */
    printf("close(in)=%d close(out)=%d close(err)=%d\n", sh_close(in), sh_close(out),
           sh_close(err));
    printf("close(out) again = %d\n", sh_close(out));
    /* A fresh open reuses the lowest free handle */
    out = sh_open(":tt", SH_OPEN_W);
    printf("reopen :tt w=%d\n", out);
    sh_close(out);

    /* GET_CMDLINE: a 1-byte buffer is too small (-1), then a real one */
    char small[1] = { 'x' };
    u32 len = 0xdeadbeef;
    r = sh_get_cmdline(small, sizeof(small), &len);
    printf("get_cmdline(size 1) -> %d iserror=%d\n", r, sh_iserror(r));
    static char line[1024];
    len = 0;
    r = sh_get_cmdline(line, sizeof(line), &len);
    printf("get_cmdline(size 1024) -> %d len=%u==strlen:%d last component='%s'\n", r, len,
           len == strlen(line), basename(line));

    /* HEAPINFO: where the emulator says heap and stack go */
    struct sh_heapinfo hi = { 1, 2, 3, 4 };
    sh_heapinfo(&hi);
    printf("heapinfo heap=%08x..%08x stack=%08x..%08x\n", hi.heap_base, hi.heap_limit,
           hi.stack_base, hi.stack_limit);

    /* CLOCK and TIME: values are host dependent; check only success */
    int c = sh_clock();
    int t = sh_time();
    printf("clock ok=%d time ok=%d\n", c >= 0, t > 0);
    return 0;
}
