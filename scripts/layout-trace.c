// Which methods of a Native AOT daemon run, for scripts/layout-profile.sh. Loaded with LD_PRELOAD into the daemon:
//
//   LAYOUT_TRACE_METHODS=FILE   the entry addresses to watch: file-relative virtual addresses, one little-endian
//                               uint64 each, ascending (scripts/layout-methods.py entries)
//   LAYOUT_TRACE_OUT=FILE       one byte per entry, set to 1 the first time that method runs; a shared mapping, so
//                               another process can read it while the daemon runs
//
// Before the daemon's own code starts, the first byte of every watched method becomes int3 (the code pages are made
// writable; they are private copies of the file). The first call of a method traps: the SIGTRAP handler marks it,
// puts its byte back and resumes it, so each method costs one trap and then runs at full speed. A SIGTRAP that is
// not ours goes to the handler the daemon installed, which is why sigaction is wrapped here.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/ucontext.h>
#include <unistd.h>

static uint64_t *entries; // absolute addresses, ascending
static unsigned char *saved; // the byte int3 replaced, per entry
static unsigned char *ran; // shared with LAYOUT_TRACE_OUT
static size_t count;
static struct sigaction daemon_handler;
static int have_daemon_handler;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static long find(uint64_t address)
{
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (entries[middle] < address)
            low = middle + 1;
        else
            high = middle;
    }
    return low < count && entries[low] == address ? (long)low : -1;
}

static void on_trap(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    uint64_t address = (uint64_t)uc->uc_mcontext.gregs[REG_RIP] - 1; // int3 leaves RIP after itself
    long i = find(address);
    if (i >= 0) {
        // Another thread may have restored it first: then the byte is already back.
        *(volatile unsigned char *)address = saved[i];
        __atomic_store_n(&ran[i], 1, __ATOMIC_RELAXED);
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)address;
        return;
    }
    if (have_daemon_handler && (daemon_handler.sa_flags & SA_SIGINFO)) {
        daemon_handler.sa_sigaction(sig, info, context);
        return;
    }
    if (have_daemon_handler && daemon_handler.sa_handler != SIG_DFL && daemon_handler.sa_handler != SIG_IGN) {
        daemon_handler.sa_handler(sig);
        return;
    }
    signal(SIGTRAP, SIG_DFL);
    raise(SIGTRAP);
}

int sigaction(int sig, const struct sigaction *action, struct sigaction *old)
{
    if (!real_sigaction)
        real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGTRAP || !ran)
        return real_sigaction(sig, action, old);
    if (old)
        *old = daemon_handler;
    if (action) {
        daemon_handler = *action;
        have_daemon_handler = 1;
    }
    return 0;
}

static void *map_file(const char *path, size_t *size, int writable)
{
    int fd = open(path, writable ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0644);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (writable ? ftruncate(fd, (off_t)*size) != 0 : fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    if (!writable)
        *size = (size_t)st.st_size;
    void *p = *size ? mmap(NULL, *size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

__attribute__((constructor)) static void start_tracing(void)
{
    const char *list = getenv("LAYOUT_TRACE_METHODS"), *out = getenv("LAYOUT_TRACE_OUT");
    if (!list || !out)
        return;
    // The executable's load address: the start of its mapping at file offset 0; and the span of its mappings.
    char exe[4096], line[8192];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    FILE *maps = fopen("/proc/self/maps", "r");
    if (n <= 0 || !maps)
        return;
    exe[n] = 0;
    uint64_t base = 0, end = 0, from, to, offset;
    while (fgets(line, sizeof line, maps)) {
        char *path = strchr(line, '/');
        if (!path)
            continue;
        path[strcspn(path, "\n")] = 0;
        if (strcmp(path, exe) == 0 && sscanf(line, "%lx-%lx %*s %lx", &from, &to, &offset) == 3) {
            if (offset == 0 && !base)
                base = from;
            end = to;
        }
    }
    fclose(maps);
    size_t bytes = 0;
    uint64_t *relative = map_file(list, &bytes, 0);
    if (!base || !relative)
        return;
    count = bytes / sizeof(uint64_t);
    size_t out_bytes = count;
    entries = malloc(count * sizeof(uint64_t));
    saved = malloc(count);
    ran = map_file(out, &out_bytes, 1);
    if (!entries || !saved || !ran)
        return;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t lo = (base + relative[0]) & ~(page - 1), hi = base + relative[count - 1] + 1;
    if (hi > end || mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return;
    struct sigaction handler;
    memset(&handler, 0, sizeof handler);
    handler.sa_sigaction = on_trap;
    handler.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&handler.sa_mask);
    real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    real_sigaction(SIGTRAP, &handler, NULL);
    for (size_t i = 0; i < count; i++) {
        entries[i] = base + relative[i];
        saved[i] = *(unsigned char *)entries[i];
        *(unsigned char *)entries[i] = 0xCC;
    }
}
