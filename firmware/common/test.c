/* test.c — helpers for tests/ (see test.h). */
#include "test.h"

const u32 edge_vals[5] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff };

const char *fl(u32 psr)
{
    static char bufs[4][6];
    static u32 next;
    char *b = bufs[next++ & 3];
    b[0] = (psr & PSR_N) ? 'N' : 'n';
    b[1] = (psr & PSR_Z) ? 'Z' : 'z';
    b[2] = (psr & PSR_C) ? 'C' : 'c';
    b[3] = (psr & PSR_V) ? 'V' : 'v';
    b[4] = (psr & PSR_Q) ? 'Q' : 'q';
    b[5] = 0;
    return b;
}

const char *ge(u32 psr)
{
    static char bufs[4][8];
    static u32 next;
    char *b = bufs[next++ & 3];
    b[0] = 'g';
    b[1] = 'e';
    b[2] = '=';
    for (int i = 0; i < 4; i++)
        b[3 + i] = (psr >> (PSR_GE_SHIFT + 3 - i)) & 1 ? '1' : '0';
    b[7] = 0;
    return b;
}
