// tcpfo-stream-client's command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <netinet/in.h>

#include "userd/base/error.h"

namespace tcpfo::streamtest {

enum class ClientMode { echo, download, upload, half_close, request_response, counter, stamp };

struct ClientOptions {
    sockaddr_in target{};
    ClientMode mode = ClientMode::echo;
    std::uint64_t conns = 1;
    std::uint64_t bytes = 0;           // per connection
    double rate_mb_per_s = 0;          // per connection; 0 = as fast as TCP goes
    std::optional<std::uint64_t> pause_at;  // per connection, in sent bytes
    std::string resume_file;
    std::string progress_file;
    std::string ports_file;
    std::string crash_file;  // holds the wall-clock time (ns) of a crash, written during the run
    double crash_window_ms = 500;  // crash_stall_ms: the longest gap overlapping this long after the crash
    std::string label = "run";
    double timeout_s = 60;
    double report_gaps_ms = 0;         // print every receive gap at least this long (0: none)
    std::uint64_t rr_size = 64;        // request/response: bytes per request
    std::uint64_t rr_count = 1000;     // request/response: requests per connection
    std::uint16_t seed_base = 1;
    bool nodelay = false;
    std::uint64_t expect_resets = 0;   // connections that must end in a reset (and only so)
};

// Parses argv; an error is one line for the user. `help` is set for --help.
Result<ClientOptions> parse_client_options(int argc, char** argv, bool& help);
extern const char* const client_usage;

}  // namespace tcpfo::streamtest
