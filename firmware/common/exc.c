/* exc.c — exception dispatch; see exc.h. */
#include "exc.h"
#include "printf.h"
#include "semihost.h"

exc_hook_fn exc_hooks[8];

const char *exc_name(int kind)
{
    static const char *const names[8] = {
        "reset", "undefined-instruction", "supervisor-call", "prefetch-abort",
        "data-abort", "hyp-trap", "irq", "fiq",
    };
    return kind >= 0 && kind < 8 ? names[kind] : "unknown";
}

void exc_dispatch(int kind, struct exc_frame *f)
{
    static int fatal;

    if (kind > 0 && kind < 8 && exc_hooks[kind] && !fatal) {
        exc_hooks[kind](kind, f);
        return;
    }
    /* Unexpected exception: report and exit non-zero. If reporting itself
     * faults (e.g. semihosting is not intercepted, so the SVC #0x123456 of
     * the print comes back here), hang instead of recursing forever. */
    if (fatal)
        for (;;)
            ;
    fatal = 1;
    printf("*** unexpected %s exception: lr=%08x spsr=%08x cpsr=%08x\n",
           exc_name(kind), f->lr, f->spsr, f->cpsr);
    if (kind == EXC_DABT)
        printf("*** dfsr=%08x dfar=%08x\n", read_dfsr(), read_dfar());
    if (kind == EXC_PABT)
        printf("*** ifsr=%08x ifar=%08x\n", read_ifsr(), read_ifar());
    for (int i = 0; i < 13; i++)
        printf("*** r%d=%08x%s", i, f->r[i], (i % 4 == 3 || i == 12) ? "\n" : " ");
    exit(128 + kind);
}
