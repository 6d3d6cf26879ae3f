/*
 * rt/fiber_aarch64.S: the raw context switch for AArch64 (AAPCS64) and the
 * frame a fresh fiber starts from. It owns nothing else: sanitizer
 * annotations, the fiber record and the choice of stacks are in fiber.c
 * and stack.c. Same contract as fiber_x86_64.S.
 *
 * A suspended context is its stack pointer alone. From there up lies a
 * 160-byte frame of the callee-saved registers (AAPCS64 5.1: x19-x28, the
 * frame pointer x29, the link register x30, and the low 64 bits of
 * v8-v15):
 *
 *     sp+0   x19 x20   sp+16  x21 x22   sp+32  x23 x24   sp+48  x25 x26
 *     sp+64  x27 x28   sp+80  x29 x30   sp+96  d8  d9    sp+112 d10 d11
 *     sp+128 d12 d13   sp+144 d14 d15
 *
 * FPCR and FPSR are shared by the fibers of a thread and not saved
 * (fiber.h). x18, the platform register, is left alone. Unlike x86-64 it
 * resumes with ret: a br to the resume point would need a BTI landing pad
 * there, which call sites do not have. Not run on real hardware yet:
 * checked only by assembling it (clang --target=aarch64-linux-gnu).
 */
#if defined(__aarch64__) && !defined(EDDY_FIBER_PORTABLE)

/* Landing pad for indirect calls under -mbranch-protection=bti. The
   trampoline needs none: it is entered by ret, which BTI does not check. */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define BTI_C hint #34
#else
#define BTI_C
#endif

    .text

/* void eddy__ctx_switch(void **from_sp, void *to_sp) */
    .p2align 4
    .globl  eddy__ctx_switch
    .hidden eddy__ctx_switch
    .type   eddy__ctx_switch, %function
eddy__ctx_switch:
    .cfi_startproc
    BTI_C
    sub     sp, sp, #160
    .cfi_def_cfa_offset 160
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    .cfi_offset x19, -160
    .cfi_offset x20, -152
    .cfi_offset x21, -144
    .cfi_offset x22, -136
    .cfi_offset x23, -128
    .cfi_offset x24, -120
    .cfi_offset x25, -112
    .cfi_offset x26, -104
    .cfi_offset x27, -96
    .cfi_offset x28, -88
    .cfi_offset x29, -80
    .cfi_offset x30, -72
    .cfi_offset d8, -64
    .cfi_offset d9, -56
    .cfi_offset d10, -48
    .cfi_offset d11, -40
    .cfi_offset d12, -32
    .cfi_offset d13, -24
    .cfi_offset d14, -16
    .cfi_offset d15, -8

    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1

    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    .cfi_def_cfa_offset 0
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
    ret
    .cfi_endproc
    .size   eddy__ctx_switch, .-eddy__ctx_switch

/* First code of every fiber, entered by the ret of its first switch-in with
   sp = top & ~15 (AArch64 keeps sp 16-byte aligned at all times). Calls
   boot(a0, a1, a2) from x20, x21, x22 through x19; boot never returns. The
   undefined x30 and the zero x29 end backtraces. */
    .p2align 4
    .type   fiber_trampoline, %function
fiber_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20
    mov     x1, x21
    mov     x2, x22
    blr     x19
    brk     #0x1
    .cfi_endproc
    .size   fiber_trampoline, .-fiber_trampoline

/* void *eddy__ctx_make(void *top, void (*boot)(void *, void *, void *),
                        void *a0, void *a1, void *a2)
   Builds below top & ~15 the frame eddy__ctx_switch pops: x19 boot,
   x20 a0, x21 a1, x22 a2, x30 fiber_trampoline, everything else 0. */
    .p2align 4
    .globl  eddy__ctx_make
    .hidden eddy__ctx_make
    .type   eddy__ctx_make, %function
eddy__ctx_make:
    .cfi_startproc
    BTI_C
    and     x9, x0, #~15
    sub     x9, x9, #160
    stp     x1, x2, [x9, #0]
    stp     x3, x4, [x9, #16]
    stp     xzr, xzr, [x9, #32]
    stp     xzr, xzr, [x9, #48]
    stp     xzr, xzr, [x9, #64]
    adr     x10, fiber_trampoline
    stp     xzr, x10, [x9, #80]
    stp     xzr, xzr, [x9, #96]
    stp     xzr, xzr, [x9, #112]
    stp     xzr, xzr, [x9, #128]
    stp     xzr, xzr, [x9, #144]
    mov     x0, x9
    ret
    .cfi_endproc
    .size   eddy__ctx_make, .-eddy__ctx_make

/* Tell the linker this object is BTI/PAC clean when the C code is built
   that way, so it does not switch off the protection for the whole binary:
   GNU_PROPERTY_AARCH64_FEATURE_1_AND (0xc0000000), bit 0 BTI, bit 1 PAC. */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define FEATURE_BTI 1
#else
#define FEATURE_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define FEATURE_PAC 2
#else
#define FEATURE_PAC 0
#endif
#if FEATURE_BTI || FEATURE_PAC
    .pushsection .note.gnu.property, "a"
    .p2align 3
    .long   4                       /* n_namesz */
    .long   16                      /* n_descsz */
    .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000000              /* pr_type */
    .long   4                       /* pr_datasz */
    .long   FEATURE_BTI | FEATURE_PAC
    .long   0                       /* pad to 8 */
    .popsection
#endif

#endif /* __aarch64__ && !EDDY_FIBER_PORTABLE */

    .section .note.GNU-stack,"",%progbits
