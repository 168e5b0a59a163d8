// Which descriptors and streams read /dev/urandom or /dev/random, the devices whose
// bytes are recorded and replayed. Only exact absolute paths are recognized (not a
// symlink to them, a relative path or /dev/fd/N), and a handle made by dup(),
// fcntl(F_DUPFD) or fdopen() is not tracked.
#pragma once

#include <cstdio>

namespace tcpfo::preload {

bool is_random_device_path(const char* path);

// Descriptors above 65535 are not tracked (reads from them pass through).
void track_device_fd(int fd, bool is_device);
bool is_device_fd(int fd);

// Up to 64 streams at once; more pass through.
void track_device_stream(FILE* stream);
void untrack_device_stream(FILE* stream);
bool is_device_stream(FILE* stream);

}  // namespace tcpfo::preload
