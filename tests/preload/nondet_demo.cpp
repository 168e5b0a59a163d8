// Prints what the calls the preload library interposes return, in two rounds a few
// milliseconds apart, as text: two plain runs differ, a replayed run prints exactly
// what its recorded run printed. --other-order makes the same calls in another order,
// which a replay of a normal run must refuse as a divergence. --with-thread and
// --with-fork add a second thread and a forked child that make the same calls without
// printing: neither may add entries to the log or take entries from it.
#include <fcntl.h>
#include <sys/wait.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

void print_hex(const char* label, const uint8_t* bytes, long n) {
    std::printf("%s %ld ", label, n);
    for (long i = 0; i < n; ++i) std::printf("%02x", bytes[i]);
    std::printf("\n");
}

void show_clock(const char* label, clockid_t clock) {
    timespec ts{};
    const int ret = clock_gettime(clock, &ts);
    std::printf("%s ret=%d %lld.%09ld\n", label, ret, static_cast<long long>(ts.tv_sec), ts.tv_nsec);
}

void show_gettimeofday() {
    timeval tv{};
    const int ret = gettimeofday(&tv, nullptr);
    std::printf("gettimeofday ret=%d %lld.%06ld\n", ret, static_cast<long long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec));
}

void show_time() { std::printf("time %lld\n", static_cast<long long>(time(nullptr))); }

void show_getrandom() {
    uint8_t bytes[32];
    const ssize_t n = getrandom(bytes, sizeof bytes, 0);
    print_hex("getrandom", bytes, n);
}

// Larger than the library's 64 KiB record buffer: the entry is written on its own.
void show_big_getrandom() {
    static uint8_t bytes[200000];
    const ssize_t n = getrandom(bytes, sizeof bytes, 0);
    uint64_t hash = 14695981039346656037ull;  // FNV-1a: 200000 bytes in one line
    for (ssize_t i = 0; i < n; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
    std::printf("getrandom %zd bytes, fnv1a %016llx\n", n, static_cast<unsigned long long>(hash));
}

void show_getpid() { std::printf("getpid %d\n", static_cast<int>(getpid())); }

void show_fread() {
    uint8_t bytes[16] = {};
    FILE* f = std::fopen("/dev/urandom", "rb");
    if (f == nullptr) {
        std::printf("fopen /dev/urandom failed: %s\n", std::strerror(errno));
        return;
    }
    const size_t items = std::fread(bytes, 1, sizeof bytes, f);
    std::fclose(f);
    print_hex("fread /dev/urandom", bytes, long(items));
}

void show_read() {
    uint8_t bytes[16] = {};
    const int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0) {
        std::printf("open /dev/urandom failed: %s\n", std::strerror(errno));
        return;
    }
    const ssize_t n = read(fd, bytes, sizeof bytes);
    close(fd);
    print_hex("read /dev/urandom", bytes, long(n));
}

// The calls, unprinted, as a thread or a child makes them (the child also as the
// program it execs: this one with --quiet-calls).
void make_calls_quietly() {
    for (int i = 0; i < 20; ++i) {
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint8_t bytes[8];
        (void)!getrandom(bytes, sizeof bytes, 0);
        (void)time(nullptr);
        (void)getpid();
        const int fd = open("/dev/urandom", O_RDONLY);
        if (fd >= 0) {
            (void)!read(fd, bytes, sizeof bytes);
            close(fd);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool other_order = false, with_thread = false, with_fork = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quiet-calls") {
            make_calls_quietly();
            return 0;
        }
        if (arg == "--other-order") other_order = true;
        else if (arg == "--with-thread") with_thread = true;
        else if (arg == "--with-fork") with_fork = true;
        else {
            std::fprintf(stderr, "usage: %s [--other-order] [--with-thread] [--with-fork] | --quiet-calls\n", argv[0]);
            return 2;
        }
    }
    std::vector<std::function<void()>> calls = {
        [] { show_clock("clock_gettime(CLOCK_REALTIME)", CLOCK_REALTIME); },
        [] { show_clock("clock_gettime(CLOCK_MONOTONIC)", CLOCK_MONOTONIC); },
        show_gettimeofday, show_time, show_getrandom, show_big_getrandom, show_getpid, show_fread,
        show_read,
    };
    if (other_order) std::swap(calls[0], calls[4]);
    std::thread thread;
    if (with_thread) thread = std::thread(make_calls_quietly);
    for (int round = 1; round <= 2; ++round) {
        std::printf("round %d\n", round);
        for (auto& call : calls) call();
        if (round == 1) {
            std::fflush(stdout);  // the child must not print round 1 again
            if (with_fork) {
                const pid_t child = fork();
                if (child == 0) {
                    make_calls_quietly();
                    // A grandchild that execs loads the library again; the child
                    // itself ends through exit(), so the library's destructor runs.
                    const pid_t grandchild = fork();
                    if (grandchild == 0) {
                        char quiet[] = "--quiet-calls";
                        char* const args[] = {argv[0], quiet, nullptr};
                        execv(argv[0], args);
                        std::_Exit(127);
                    }
                    if (grandchild > 0) waitpid(grandchild, nullptr, 0);
                    std::exit(0);
                }
                if (child < 0 || waitpid(child, nullptr, 0) != child) std::perror("fork");
            }
            // Not through the interposed calls: nanosleep is neither recorded nor needed.
            const timespec pause{0, 5 * 1000 * 1000};
            nanosleep(&pause, nullptr);
        }
    }
    if (thread.joinable()) thread.join();
    return 0;
}
