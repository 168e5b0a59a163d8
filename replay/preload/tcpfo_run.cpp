// tcpfo-run: runs a service under the preload library, the same command on every node:
//
//   tcpfo-run [--control PATH] [--wait-s N] -- COMMAND [ARGS...]
//
// It asks the failoverd on PATH whether this node records the service (the primary) or
// replays it (a backup), then execs COMMAND with libtcpfo-preload.so preloaded and its
// socket to failoverd as the application log's descriptor (docs/protocol.md, "The
// application log"; docs/operations.md). It lives in replay/preload/ beside the
// library because it is the library's launcher and nothing else: it sets the library's
// environment interface (preload_state.h) and finds the library the build made.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "userd/base/flag_value.h"
#include "replay/preload/service_handshake.h"
#include "userd/status/control_protocol.h"

using namespace tcpfo;

namespace {

const char* const kUsage =
    "usage: tcpfo-run [--control PATH] [--wait-s N] -- COMMAND [ARGS...]\n"
    "       tcpfo-run --help\n"
    "  --control PATH  the control socket of this node's failoverd (failoverd --control);\n"
    "                  default /run/tcpfo/failoverd.sock\n"
    "  --wait-s N      while no failoverd listens on PATH, try again every 100 ms for up to\n"
    "                  N seconds (0: try once); default 30\n"
    "  COMMAND         the service, the same on every node: recorded on the primary,\n"
    "                  replayed on a backup, as failoverd answers\n"
    "Exit status: COMMAND's once it runs; 69 when no failoverd answers or it refuses the\n"
    "service, 127 when COMMAND cannot be run, 1 when the preload library is missing,\n"
    "2 for a bad command line.\n";

constexpr int kBadUsageExit = 2;
constexpr int kUnavailableExit = 69;  // EX_UNAVAILABLE: no failoverd, or it said no
constexpr int kNoLibraryExit = 1;
constexpr int kCannotRunExit = 127;  // as a shell says of a command it cannot run
constexpr int kDefaultWaitS = 30;
constexpr int kMaxWaitS = 24 * 60 * 60;
constexpr const char* kLibraryName = "libtcpfo-preload.so";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "tcpfo-run: %s\n%s", message.c_str(), kUsage);
    return kBadUsageExit;
}

int fail_line(int status, const std::string& message) {
    std::fprintf(stderr, "tcpfo-run: %s\n", message.c_str());
    return status;
}

struct Arguments {
    std::string control = kDefaultControlPath;
    int wait_s = kDefaultWaitS;
    int command_index = 0;  // argv[command_index] is COMMAND
};

// Returns the arguments, or an exit status: 0 after --help, 2 after a usage error.
std::variant<Arguments, int> parse_arguments(int argc, char** argv) {
    Arguments args;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            if (i + 1 >= argc) return usage_error("no command after '--'");
            args.command_index = i + 1;
            return args;
        }
        auto value = [&](std::string_view flag) { return flag_value(flag, i, argc, argv); };
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (auto v = value("--control")) {
            if (v->empty()) return usage_error("--control needs a path");
            args.control = *v;
        } else if (auto v = value("--wait-s")) {
            int n = -1;
            auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
            if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < 0 || n > kMaxWaitS)
                return usage_error(fmt::format("--wait-s: '{}' is not a number of seconds from 0 to {}", *v,
                                               kMaxWaitS));
            args.wait_s = n;
        } else if (!arg.empty() && arg[0] == '-') {
            return usage_error(fmt::format("unknown option '{}'", arg));
        } else {
            return usage_error(fmt::format("'{}': put '--' before the command", arg));
        }
    }
    return usage_error("no command given (put it after '--')");
}

bool is_regular_file(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The library's absolute path (the service may change directory before it execs
// another program, which must find the library too): TCPFO_PRELOAD_LIB if set, else
// the installed one (LIBDIR/tcpfo, from this program's directory), else the one this
// build made, else one beside this program.
Result<std::string> find_preload_library() {
    auto absolute = [](const std::string& path) -> std::optional<std::string> {
        char resolved[PATH_MAX];
        if (::realpath(path.c_str(), resolved) == nullptr || !is_regular_file(resolved)) return std::nullopt;
        return std::string(resolved);
    };
    if (const char* chosen = std::getenv("TCPFO_PRELOAD_LIB"); chosen != nullptr) {
        if (auto path = absolute(chosen)) return *path;
        return fail("TCPFO_PRELOAD_LIB={} is not a library file", chosen);
    }
    // An installed tcpfo-run first, so that a package never runs with a build tree's
    // library (the build path is compiled in); a build tree has no LIBDIR/tcpfo there.
    std::string dir, installed = "the install directory (/proc/self/exe unreadable)";
    char self[PATH_MAX];
    if (const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1); n > 0) {
        const std::string path(self, size_t(n));
        dir = path.substr(0, path.rfind('/') + 1);
        installed = dir + TCPFO_PRELOAD_FROM_BIN + "/" + kLibraryName;
        if (auto found = absolute(installed)) return *found;
    }
    const std::string built = TCPFO_PRELOAD_BUILD_PATH;
    if (auto path = absolute(built)) return *path;
    const std::string beside = dir.empty() ? std::string("beside this program") : dir + kLibraryName;
    if (!dir.empty())
        if (auto found = absolute(beside)) return *found;
    return fail("can't find {}: not at {}, {} nor {} (set TCPFO_PRELOAD_LIB)", kLibraryName, built, installed, beside);
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = parse_arguments(argc, argv);
    if (const int* status = std::get_if<int>(&parsed)) return *status;
    const Arguments& args = std::get<Arguments>(parsed);

    // Before failoverd hears of the service: a service that cannot start must not be
    // announced.
    auto library = find_preload_library();
    if (!library) return fail_line(kNoLibraryExit, library.error().message);

    auto fd = connect_to_failoverd(args.control, args.wait_s);
    if (!fd) return fail_line(kUnavailableExit, fd.error().message);
    // exec keeps the pid: the one announced is the service's.
    auto mode = announce_service(fd->get(), args.control, ::getpid());
    if (!mode) return fail_line(kUnavailableExit, mode.error().message);

    // The socket becomes the service's log descriptor. Not 0-2: a tcpfo-run started with
    // a standard descriptor closed would hand the service its log as stdin or stdout.
    int log_fd = fd->get();
    if (log_fd <= STDERR_FILENO) {
        log_fd = ::fcntl(fd->get(), F_DUPFD, STDERR_FILENO + 1);
        if (log_fd < 0) return fail_line(kUnavailableExit, fmt::format("can't move the log descriptor: {}",
                                                                       std::strerror(errno)));
        fd->reset();
    } else {
        fd->release();
    }
    if (::fcntl(log_fd, F_SETFD, 0) != 0)
        return fail_line(kUnavailableExit, fmt::format("can't keep the log descriptor open across exec: {}",
                                                       std::strerror(errno)));

    std::string preload = *library;
    if (const char* existing = std::getenv("LD_PRELOAD"); existing != nullptr && *existing != '\0')
        preload += std::string(":") + existing;
    // The owner variable belongs to a recording library above us, if any: this service
    // is a new one, whose library sets it to its own pid.
    if (::setenv("TCPFO_PRELOAD_MODE", service_mode_name(*mode), 1) != 0 ||
        ::setenv("TCPFO_PRELOAD_LOG_FD", std::to_string(log_fd).c_str(), 1) != 0 ||
        ::setenv("LD_PRELOAD", preload.c_str(), 1) != 0 || ::unsetenv("TCPFO_PRELOAD_OWNER_PID") != 0)
        return fail_line(kUnavailableExit, fmt::format("can't set the environment: {}", std::strerror(errno)));

    ::execvp(argv[args.command_index], argv + args.command_index);
    return fail_line(kCannotRunExit, fmt::format("can't run {}: {}", argv[args.command_index], std::strerror(errno)));
}
