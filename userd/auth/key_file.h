// The key file (docs/operations.md, "Keys"): one or more shared keys, 64 hex digits a
// line, the first one the key this node sends with, every one accepted. Readable by
// its owner only. `failoverctl genkey` writes one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "userd/auth/key_ring.h"
#include "userd/base/error.h"

namespace tcpfo {

inline constexpr size_t kMaxKeysPerFile = 8;

// The keys in a key file's text; errors name `name` and the line.
Result<std::vector<AuthKey>> parse_key_text(std::string_view text, const std::string& name);
// Reads and checks a key file: a regular file that neither group nor others may read
// or write, holding 1 to kMaxKeysPerFile keys.
Result<std::vector<AuthKey>> load_key_file(const std::string& path);
// A new key's line: 64 hex digits of fresh randomness.
std::string new_key_line();
// Writes a new key file at `path` (mode 0600; never over an existing file).
Result<void> write_new_key_file(const std::string& path);

}  // namespace tcpfo
