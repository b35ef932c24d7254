/*
 * debuggee.c — the program the gdb tests drive (crates/armvex/tests/gdb.rs), and the one the
 * debugging tutorial (docs/debugging.md) uses. It also runs under fwtest like any test: its
 * output is the same under QEMU.
 *
 * A recurrence keeps a global `counter` changing in a known way, one call of `step` per
 * value, so that watchpoints and breakpoints have exact values to check:
 *     counter(0) = 0, counter(i) = counter(i-1) * 3 + i  (i = 1..20, modulo 2^32)
 * i.e. 1, 5, 18, 58, 179, ... `history` keeps the last eight values.
 */
#include "test.h"

volatile unsigned counter;
volatile unsigned history[8];
volatile unsigned calls;

/* One step of the recurrence. noinline: a function to break in and step over. */
__attribute__((noinline)) void step(unsigned i)
{
    calls++;
    counter = counter * 3 + i;
    history[i & 7] = counter;
}

__attribute__((noinline)) unsigned checksum(void)
{
    unsigned sum = 0;
    for (unsigned i = 0; i < 8; i++)
        sum = sum * 31 + history[i];
    return sum;
}

int main(void)
{
    for (unsigned i = 1; i <= 20; i++)
        step(i);
    unsigned sum = checksum();
    printf("debuggee: counter=%u calls=%u checksum=%08x\n", counter, calls, sum);
    return 0;
}
