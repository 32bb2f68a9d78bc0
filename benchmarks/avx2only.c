/* Loaded with LD_PRELOAD by benchmarks/avx2only.py: makes the CPUID instruction fault
   (arch_prctl ARCH_SET_CPUID) and answers it in the fault handler with the real values less the
   AVX-512, VNNI, BF16, FP16 and AMX bits, so numpy, torch and onnxruntime choose the kernels of a
   CPU with AVX2 and nothing newer. Only Python processes are changed: other programs a test
   starts (LibreOffice, Chromium) install fault handlers of their own, which would take the fault. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <libgen.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BIT(n) (1u << (n))

/* leaf 7, subleaf 0: EBX AVX512F, DQ, IFMA, PF, ER, CD, BW, VL; ECX VBMI, VBMI2, VNNI, BITALG,
   VPOPCNTDQ; EDX 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, FP16, AMX-TILE, AMX-INT8 */
static const uint32_t HIDDEN_EBX = BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31);
static const uint32_t HIDDEN_ECX = BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14);
static const uint32_t HIDDEN_EDX = BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25);
/* leaf 7, subleaf 1: EAX AVX-VNNI, AVX512-BF16 */
static const uint32_t HIDDEN_EAX_1 = BIT(4) | BIT(5);

static void answer(int sig, siginfo_t *info, void *context) {
    greg_t *regs = ((ucontext_t *)context)->uc_mcontext.gregs;
    const unsigned char *at = (const unsigned char *)regs[REG_RIP];
    (void)info;
    if (at[0] != 0x0f || at[1] != 0xa2) {  /* a real fault, not CPUID: die of it as without us */
        signal(sig, SIG_DFL);
        return;
    }
    uint32_t leaf = (uint32_t)regs[REG_RAX], sub = (uint32_t)regs[REG_RCX], a, b, c, d;
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    if (leaf == 7 && sub == 0) {
        b &= ~HIDDEN_EBX;
        c &= ~HIDDEN_ECX;
        d &= ~HIDDEN_EDX;
    } else if (leaf == 7 && sub == 1) {
        a &= ~HIDDEN_EAX_1;
    }
    regs[REG_RAX] = a;
    regs[REG_RBX] = b;
    regs[REG_RCX] = c;
    regs[REG_RDX] = d;
    regs[REG_RIP] += 2;  /* CPUID is two bytes long */
}

static int is_python(void) {
    char exe[4096];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (length <= 0) {
        return 0;
    }
    exe[length] = 0;
    return strncmp(basename(exe), "python", 6) == 0;
}

__attribute__((constructor)) static void start(void) {
    if (!is_python()) {
        return;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = answer;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &action, NULL);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        perror("avx2only: this CPU or kernel cannot make CPUID fault");
    }
}
