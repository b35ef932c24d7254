/* exc.c — exception dispatch; see exc.h. */
#include "exc.h"
#include "printf.h"
#include "semihost.h"

exc_hook_fn exc_hooks[EXC_KINDS];

const char *exc_name(int kind)
{
    static const char *const names[EXC_KINDS] = {
        "reset", "undefined-instruction", "supervisor-call", "prefetch-abort",
        "data-abort", "hyp-trap", "irq", "fiq",
        "unknown", "unknown", "secure-monitor-call", "monitor-prefetch-abort",
        "monitor-data-abort", "unknown", "monitor-irq", "monitor-fiq",
    };
    return kind >= 0 && kind < EXC_KINDS ? names[kind] : "unknown";
}

void exc_dispatch(int kind, struct exc_frame *f)
{
    static int fatal;

    if (kind > 0 && kind < EXC_KINDS && exc_hooks[kind] && !fatal) {
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
    if (kind == EXC_DABT || kind == EXC_MON_DABT)
        printf("*** dfsr=%08x dfar=%08x\n", read_dfsr(), read_dfar());
    if (kind == EXC_PABT || kind == EXC_MON_PABT)
        printf("*** ifsr=%08x ifar=%08x\n", read_ifsr(), read_ifar());
    for (int i = 0; i < 13; i++)
        printf("*** r%d=%08x%s", i, f->r[i], (i % 4 == 3 || i == 12) ? "\n" : " ");
    exit(128 + kind);
}
