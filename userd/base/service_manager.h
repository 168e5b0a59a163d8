// What failoverd tells systemd (sd_notify(3)) when it runs as a Type=notify unit:
// READY=1 once the node is ready, STATUS= with its role, STOPPING=1 on the way out,
// and WATCHDOG=1 from the event loop. Outside systemd (no $NOTIFY_SOCKET) every call
// does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace tcpfo {

// READY=1 and STATUS=`status`: the node is ready (a primary: every backup connected;
// a backup: the primary's stream accepted). Said once; later calls only set STATUS.
void notify_ready(std::string_view status);
// STATUS=`status` (a takeover under way, a takeover's result).
void notify_status(std::string_view status);
// STOPPING=1 and STATUS=`status`: shutting down after SIGTERM or SIGINT.
void notify_stopping(std::string_view status);
// How often to send WATCHDOG=1: half of WatchdogSec= when the unit sets it (so one
// late turn of the loop is not yet a failure), nothing otherwise.
std::optional<std::chrono::milliseconds> watchdog_interval();
void notify_watchdog();

}  // namespace tcpfo
