// One-line log records on stderr: time, level, then the message, which names the
// connection or peer it concerns.
#pragma once

#include <cstdio>
#include <ctime>

#include <fmt/core.h>

namespace tcpfo {

enum class LogLevel { debug, info, warn, error };

// Set once at start-up (from --verbose); read-only afterwards.
inline LogLevel g_log_level = LogLevel::info;

template <class... Args>
void log_at(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (level < g_log_level) return;
    static constexpr const char* names[] = {"debug", "info", "warn", "error"};
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    std::string line = fmt::format("{}.{:06} {} ", now.tv_sec, now.tv_nsec / 1000,
                                   names[static_cast<int>(level)]);
    line += fmt::format(format, std::forward<Args>(args)...);
    line += '\n';
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
