#include "userd/base/service_manager.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "userd/base/log.h"

namespace tcpfo {
namespace {

bool ready_sent = false;

void notify(const std::string& state) {
    // < 0: the socket is there but the message could not go; 0: not under systemd.
    if (const int r = sd_notify(0, state.c_str()); r < 0)
        log_warn("failoverd: can't notify systemd ({}): {}", state.substr(0, state.find('\n')), std::strerror(-r));
}

// STATUS= is one line.
std::string one_line(std::string_view text) {
    std::string s(text);
    for (char& c : s)
        if (c == '\n') c = ' ';
    return s;
}

}  // namespace

void notify_ready(std::string_view status) {
    notify((ready_sent ? "" : "READY=1\n") + ("STATUS=" + one_line(status)));
    ready_sent = true;
}

void notify_status(std::string_view status) { notify("STATUS=" + one_line(status)); }

void notify_stopping(std::string_view status) { notify("STOPPING=1\nSTATUS=" + one_line(status)); }

std::optional<std::chrono::milliseconds> watchdog_interval() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
    return std::chrono::milliseconds(std::max<uint64_t>(1, usec / 2000));
}

void notify_watchdog() { notify("WATCHDOG=1"); }

}  // namespace tcpfo
