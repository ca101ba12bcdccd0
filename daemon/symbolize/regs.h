/*
 * regs.h: the user registers sampled for DWARF unwinding (PERF_SAMPLE_REGS_USER), as perf
 * takes them on x86-64: every general register but the segment ones DS, ES, FS, GS. They
 * come in the sample in the order of their bits (enum perf_event_x86_regs).
 */
#ifndef CPD_REGS_H
#define CPD_REGS_H

#define CPD_REGS_USER_MASK (((1ull << 24) - 1) & ~((1ull << 12) | (1ull << 13) | (1ull << 14) | (1ull << 15)))
#define CPD_REGS_USER_N 20

#endif
