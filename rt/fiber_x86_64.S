/*
 * rt/fiber_x86_64.S: the raw context switch for x86-64 (System V ABI) and
 * the frame a fresh fiber starts from. It owns nothing else: sanitizer
 * annotations, the fiber record and the choice of stacks are in fiber.c
 * and stack.c.
 *
 * A suspended context is its stack pointer alone; from there up lie the
 * six callee-saved registers and the return address pushed by the call:
 *
 *     sp+0  r15    sp+8  r14    sp+16 r13    sp+24 r12
 *     sp+32 rbx    sp+40 rbp    sp+48 return address
 *
 * Caller-saved registers need no saving: the compiler assumes a call
 * destroys them. MXCSR and the x87 control word are shared by every fiber
 * of a thread and not saved (libaco's SHARE_FPU_MXCSR_ENV; fiber.h).
 * Nothing here touches the red zone.
 */
#if defined(__x86_64__) && !defined(EDDY_FIBER_PORTABLE)

/* Landing pad for indirect calls when built with -fcf-protection. No
   .note.gnu.property is emitted: resuming on another stack is exactly what
   a shadow stack forbids, and the resume jmp lands on no endbr64, so this
   file must claim neither SHSTK nor IBT. */
#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
#else
#define ENDBR
#endif

    .text

/* void eddy__ctx_switch(void **from_sp, void *to_sp)
   Pushes the callee-saved registers, stores rsp in *from_sp, loads to_sp,
   pops the other context's registers and resumes it. The CFI stays right
   after the stack swap because both frames have the same shape.

   It resumes with pop + indirect jmp rather than ret. A ret here always
   goes elsewhere than the return stack buffer predicts (the call that
   entered this function), a pipeline flush at every switch; the jmp goes
   through the indirect branch predictor, which learns the few resume
   points a scheduler has. Measured on this VM's EPYC, ping-pong main <->
   fiber: ret 7.9 ns per one-way switch, jmp 2.8 ns (Boost.Context's
   fcontext also jumps). The price: the call that entered is never matched
   by a ret, so the RSB is one entry off afterwards. When both contexts'
   call chains have the same shape (many fibers parked in the same library
   path), the rets that follow a switch would have hit with ret and miss
   here: scheduler model, 64 fibers yielding 3 calls deep, 22.4 vs 20.5 ns
   per switch including the returns; at depth 0, 15.2 vs 19.3 ns. In the
   scheduler itself (yield_many, 200 tasks, 1 worker) ret measured 53 ns
   per yield against 31 with jmp; the worker loop now calls this from its
   own frame and the task side reaches it through tail calls, so no return
   follows a switch on either side (26 ns). Build
   with -DEDDY_FIBER_SWITCH_RET to use ret instead. The resume point has no
   endbr64: this would need "notrack jmp" if user-space IBT were enforced. */
    .p2align 4
    .globl  eddy__ctx_switch
    .hidden eddy__ctx_switch
    .type   eddy__ctx_switch, @function
eddy__ctx_switch:
    .cfi_startproc
    ENDBR
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0

    movq    %rsp, (%rdi)
    movq    %rsi, %rsp

    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
#ifdef EDDY_FIBER_SWITCH_RET
    ret
#else
    popq    %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmpq    *%rcx
#endif
    .cfi_endproc
    .size   eddy__ctx_switch, .-eddy__ctx_switch

/* First code of every fiber, entered by the end of its first switch-in with
   rsp 16-byte aligned (see eddy__ctx_make). Calls boot(a0, a1, a2) from
   r12, r13, r14 through rbx; the call pushes the return address, so boot
   starts with rsp = 8 mod 16 as at any ABI call site. boot never returns.
   The undefined return address ends debugger and unwinder backtraces. */
    .p2align 4
    .type   fiber_trampoline, @function
fiber_trampoline:
    .cfi_startproc
    .cfi_undefined %rip
    movq    %r12, %rdi
    movq    %r13, %rsi
    movq    %r14, %rdx
    callq   *%rbx
    ud2
    .cfi_endproc
    .size   fiber_trampoline, .-fiber_trampoline

/* void *eddy__ctx_make(void *top, void (*boot)(void *, void *, void *),
                        void *a0, void *a1, void *a2)
   Builds on the stack ending at top the frame eddy__ctx_switch pops, so
   that the first switch to the returned sp enters fiber_trampoline with
   rsp = (top & ~15) - 16: r15 0, r14 a2, r13 a1, r12 a0, rbx boot, rbp 0
   (ends frame-pointer walks), return address fiber_trampoline, then two
   zero words (a null return address for naive unwinders, and padding). */
    .p2align 4
    .globl  eddy__ctx_make
    .hidden eddy__ctx_make
    .type   eddy__ctx_make, @function
eddy__ctx_make:
    .cfi_startproc
    ENDBR
    movq    %rdi, %rax
    andq    $-16, %rax
    subq    $72, %rax
    movq    $0, 0(%rax)
    movq    %r8, 8(%rax)
    movq    %rcx, 16(%rax)
    movq    %rdx, 24(%rax)
    movq    %rsi, 32(%rax)
    movq    $0, 40(%rax)
    leaq    fiber_trampoline(%rip), %rdx
    movq    %rdx, 48(%rax)
    movq    $0, 56(%rax)
    movq    $0, 64(%rax)
    ret
    .cfi_endproc
    .size   eddy__ctx_make, .-eddy__ctx_make

#endif /* __x86_64__ && !EDDY_FIBER_PORTABLE */

    .section .note.GNU-stack,"",@progbits
