/*
 * libFuzzer front end for a .NET fuzz target that calls SharpFuzz's Fuzzer.LibFuzzer.Run.
 *
 * libFuzzer runs in this process; the .NET target runs in a child started once. They talk the way SharpFuzz's
 * libFuzzer runner expects:
 *   - a System V shared memory segment: 64 KiB of edge counters (written by the instrumented assembly), then up to
 *     1 MiB of input; its id in __LIBFUZZER_SHM_ID;
 *   - a control pipe (fd 198 in the child, __LIBFUZZER_CONTROL_PIPE_ID) carrying each input's length as an int32;
 *   - a status pipe (fd 199, __LIBFUZZER_STATUS_PIPE_ID) carrying an int32 once the child is ready, then one per
 *     input: 0 when the target returned, anything else when an exception escaped it.
 * After each input the counters are copied into libFuzzer's extra-counters section, which is how the .NET code's
 * coverage guides libFuzzer. A failed input aborts this process, so libFuzzer saves it as crash-<sha1>.
 *
 * The child command comes from the environment, not argv (libFuzzer owns argv):
 *   TUNNEL_FUZZ_COMMAND="dotnet /path/Tunnel.Fuzz.dll libfuzzer proxy-header"   (split on spaces)
 *
 * Build: clang -O1 -c dotnet-driver.c && clang++ dotnet-driver.o /usr/lib/llvm-14/lib/libFuzzer.a -lpthread
 * (scripts/fuzz.sh does it).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define COUNTERS_SIZE (1 << 16)
#define MAX_INPUT (1 << 20)
#define CHILD_CONTROL_FD 198
#define CHILD_STATUS_FD 199

__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t extra_counters[COUNTERS_SIZE];

static int shm_id = -1;
static uint8_t *shared;
static int control_fd = -1;
static int status_fd = -1;
static pid_t child = -1;

static void fail(const char *what)
{
    fprintf(stderr, "dotnet-driver: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void cleanup(void)
{
    if (shm_id >= 0)
    {
        shmctl(shm_id, IPC_RMID, NULL);
    }

    if (child > 0)
    {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
}

static int read_int(int fd, int32_t *value)
{
    size_t done = 0;
    while (done < sizeof *value)
    {
        ssize_t n = read(fd, (char *)value + done, sizeof *value - done);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }

        if (n <= 0)
        {
            return -1;
        }

        done += (size_t)n;
    }

    return 0;
}

static int write_int(int fd, int32_t value)
{
    size_t done = 0;
    while (done < sizeof value)
    {
        ssize_t n = write(fd, (const char *)&value + done, sizeof value - done);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }

        if (n <= 0)
        {
            return -1;
        }

        done += (size_t)n;
    }

    return 0;
}

/* Splits the command on spaces into a NULL-terminated argv (the strings live as long as the process). */
static char **split_command(const char *command)
{
    char *copy = strdup(command);
    size_t count = 0;
    size_t capacity = 8;
    char **argv = malloc(capacity * sizeof *argv);
    if (copy == NULL || argv == NULL)
    {
        fail("malloc");
    }

    for (char *save = NULL, *word = strtok_r(copy, " ", &save); word != NULL; word = strtok_r(NULL, " ", &save))
    {
        if (count + 2 > capacity)
        {
            capacity *= 2;
            argv = realloc(argv, capacity * sizeof *argv);
            if (argv == NULL)
            {
                fail("realloc");
            }
        }

        argv[count++] = word;
    }

    argv[count] = NULL;
    return argv;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *command = getenv("TUNNEL_FUZZ_COMMAND");
    if (command == NULL || *command == '\0')
    {
        fprintf(stderr, "dotnet-driver: set TUNNEL_FUZZ_COMMAND to the .NET target's command line\n");
        exit(1);
    }

    int control[2];
    int status[2];
    if (pipe(control) != 0 || pipe(status) != 0)
    {
        fail("pipe");
    }

    shm_id = shmget(IPC_PRIVATE, COUNTERS_SIZE + MAX_INPUT, IPC_CREAT | IPC_EXCL | 0600);
    if (shm_id < 0)
    {
        fail("shmget");
    }

    atexit(cleanup);
    shared = shmat(shm_id, NULL, 0);
    if (shared == (void *)-1)
    {
        fail("shmat");
    }

    child = fork();
    if (child < 0)
    {
        fail("fork");
    }

    if (child == 0)
    {
        if (dup2(control[0], CHILD_CONTROL_FD) < 0 || dup2(status[1], CHILD_STATUS_FD) < 0)
        {
            fail("dup2");
        }

        close(control[0]);
        close(control[1]);
        close(status[0]);
        close(status[1]);
        char id[16];
        snprintf(id, sizeof id, "%d", shm_id);
        setenv("__LIBFUZZER_SHM_ID", id, 1);
        setenv("__LIBFUZZER_CONTROL_PIPE_ID", "198", 1);
        setenv("__LIBFUZZER_STATUS_PIPE_ID", "199", 1);
        char **child_argv = split_command(command);
        execvp(child_argv[0], child_argv);
        fail("exec");
    }

    close(control[0]);
    close(status[1]);
    control_fd = control[1];
    status_fd = status[0];
    int32_t ready;
    if (read_int(status_fd, &ready) != 0)
    {
        fprintf(stderr, "dotnet-driver: the .NET target exited before it was ready (is its assembly instrumented, and does it call Fuzzer.LibFuzzer.Run?)\n");
        exit(1);
    }

    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
    {
        return 0; /* run libFuzzer with -max_len at most 1 MiB */
    }

    memset(shared, 0, COUNTERS_SIZE);
    memcpy(shared + COUNTERS_SIZE, data, size);
    if (write_int(control_fd, (int32_t)size) != 0)
    {
        fprintf(stderr, "dotnet-driver: the .NET target is gone\n");
        abort();
    }

    int32_t result;
    if (read_int(status_fd, &result) != 0)
    {
        fprintf(stderr, "dotnet-driver: the .NET target died on this input\n");
        abort();
    }

    memcpy(extra_counters, shared, COUNTERS_SIZE);
    if (result != 0)
    {
        fprintf(stderr, "dotnet-driver: an exception escaped the .NET target (its stack trace is above)\n");
        abort();
    }

    return 0;
}
