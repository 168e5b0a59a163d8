// One-line log records on stderr: time, level, then the message, which names the
// connection or peer it concerns. Under systemd, when stderr is the journal's stream
// ($JOURNAL_STREAM names it), each line is "<N>message" instead: journald takes the
// syslog priority N from the prefix and keeps its own time stamp.
#pragma once

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace tcpfo {

enum class LogLevel { debug, info, warn, error };

// Set once at start-up (from --verbose); read-only afterwards.
inline LogLevel g_log_level = LogLevel::info;

// Whether `journal_stream` ("DEVICE:INODE", systemd's $JOURNAL_STREAM) names the file
// open on `fd`: a program whose stderr was redirected elsewhere keeps plain lines.
inline bool is_journal_stream(const char* journal_stream, int fd) {
    if (journal_stream == nullptr) return false;
    struct stat st{};
    if (fstat(fd, &st) != 0) return false;
    unsigned long long dev = 0, ino = 0;
    char rest = 0;
    if (std::sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &rest) != 2) return false;
    return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

// The line as written: "SECONDS.MICROS level message\n", or "<N>message\n" for the
// journal (N: debug 7, info 6, warning 4, error 3).
inline std::string format_log_line(LogLevel level, std::string_view message, bool journal, timespec now) {
    static constexpr const char* names[] = {"debug", "info", "warn", "error"};
    static constexpr int priorities[] = {7, 6, 4, 3};
    const int i = static_cast<int>(level);
    if (journal) return fmt::format("<{}>{}\n", priorities[i], message);
    return fmt::format("{}.{:06} {} {}\n", now.tv_sec, now.tv_nsec / 1000, names[i], message);
}

// Whether stderr is the journal: looked at once per process (one static for every
// log_at instantiation, not one each).
inline bool log_to_journal() {
    static const bool journal = is_journal_stream(std::getenv("JOURNAL_STREAM"), 2);
    return journal;
}

template <class... Args>
void log_at(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (level < g_log_level) return;
    const bool journal = log_to_journal();
    timespec now{};
    if (!journal) clock_gettime(CLOCK_REALTIME, &now);
    const std::string line =
        format_log_line(level, fmt::format(format, std::forward<Args>(args)...), journal, now);
    std::fwrite(line.data(), 1, line.size(), stderr);
}

#define TCPFO_LOG_FN(name, level)                                        \
    template <class... Args>                                             \
    void name(fmt::format_string<Args...> format, Args&&... args) {      \
        log_at(level, format, std::forward<Args>(args)...);              \
    }
TCPFO_LOG_FN(log_debug, LogLevel::debug)
TCPFO_LOG_FN(log_info, LogLevel::info)
TCPFO_LOG_FN(log_warn, LogLevel::warn)
TCPFO_LOG_FN(log_error, LogLevel::error)
#undef TCPFO_LOG_FN

}  // namespace tcpfo
