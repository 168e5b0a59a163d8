// failoverd's config file (TOML, read with toml++): the same settings as the flags,
// under the keys below, plus [[node]] tables that can carry every node's priority.
//
//   id = 1                       # --id            vip = "192.0.2.100/24"   # --vip
//   dev = "eth0"                 # --dev           port = 7000              # --port
//   priority = 200               # --priority      replica = "127.0.0.1:7000"  # --replica
//   two_node = true              # --two-node      witness = false          # --witness
//   control = "/run/tcpfo/failoverd.sock"          ready_file = "..."       # --ready-file
//   heartbeat_ms = 10   dead_after = 3   rt_priority = 10   nice = -10   verbose = false
//   metrics = "0.0.0.0:9100"     # --metrics (off unless given)
//   hooks = "bpf"                # --hooks: bpf, kmod or auto
//   [[node]]
//   id = 1
//   address = "192.0.2.10:7100"  # port 7100 if left out
//   priority = 200               # 100 if left out
//   notify = "/etc/tcpfo/notify.sh"          notify_fifo = "/run/tcpfo/notify.fifo"
//   [[check]]                    # health checks of this node's service (check_spec.h)
//   name = "web"   type = "http"   target = "127.0.0.1:8080"   path = "/health"
//   status = 200   interval_ms = 1000   connect_timeout_ms = 200   receive_timeout_ms = 500
//   fall = 3   rise = 2   body_contains = "ok"   body_sha256 = "..."   init_fail = false
//   (banner: banner = "^SSH-2\\.0-"; script: script = "/path/prog ARGS", timeout_ms)
//
// Every error is one line naming the file, the line and the key:
// "/etc/tcpfo/failoverd.toml:7: port: 70000 is not a number from 1 to 65535".
#pragma once

#include <string>
#include <string_view>

#include "userd/base/error.h"
#include "userd/config/settings.h"

namespace tcpfo {

// Reads and checks the file; a file that cannot be read is an error like any other.
Result<Settings> load_config_file(const std::string& path);

// The same for text already in memory; `source_name` stands for the file in errors.
Result<Settings> parse_config_text(std::string_view text, std::string_view source_name);

}  // namespace tcpfo
