// A file holding one number, the bytes a tool has moved so far, rewritten in place.
// The host harness reads it through the guest agent to see whether a stream moves.
#pragma once

#include <cstdint>
#include <string>

namespace tcpfo::vmtools {

class ProgressFile {
 public:
    // An empty path disables progress reporting.
    explicit ProgressFile(std::string path);
    ~ProgressFile();
    ProgressFile(const ProgressFile&) = delete;
    ProgressFile& operator=(const ProgressFile&) = delete;

    bool ok() const { return path_.empty() || fd_ >= 0; }
    // Rewrites the count at most every 20 ms unless `force`: a write per read() would
    // cost more than the stream itself under software emulation.
    void update(uint64_t bytes, bool force = false);

 private:
    std::string path_;
    int fd_ = -1;
    uint64_t last_ns_ = 0;
};

}  // namespace tcpfo::vmtools
