/* smoke.c — the simplest program: print a line and exit 0. */
#include "test.h"

int main(void)
{
    printf("hello from armvex firmware: %d %u %x %08x %s %c %5d|%-5d|%05d|%+d|%+03d\n",
           -42, 42u, 0xbeefu, 0x1234u, "str", 'c', 7, 7, -7, 5, 5);
    return 0;
}
