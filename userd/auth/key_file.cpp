#include "userd/auth/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "userd/base/unique_fd.h"

namespace tcpfo {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

Result<std::vector<AuthKey>> parse_key_text(std::string_view text, const std::string& name) {
    std::vector<AuthKey> keys;
    int line_no = 0;
    while (!text.empty()) {
        const size_t end = text.find('\n');
        std::string_view line = trim(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++line_no;
        if (line.empty() || line.front() == '#') continue;
        if (line.size() != 2 * kAuthKeySize)
            return fail("{}:{}: a key is {} hex digits, this line has {} characters", name, line_no, 2 * kAuthKeySize,
                        line.size());
        KeyBytes bytes{};
        for (size_t i = 0; i < kAuthKeySize; ++i) {
            const int hi = hex_value(line[2 * i]), lo = hex_value(line[2 * i + 1]);
            if (hi < 0 || lo < 0) return fail("{}:{}: a key is hex digits only", name, line_no);
            bytes[i] = uint8_t(hi << 4 | lo);
        }
        if (keys.size() == kMaxKeysPerFile) return fail("{}:{}: more than {} keys", name, line_no, kMaxKeysPerFile);
        const AuthKey key = make_auth_key(bytes);
        for (const auto& k : keys)
            if (k.id == key.id) return fail("{}:{}: the same key twice", name, line_no);
        keys.push_back(key);
    }
    if (keys.empty()) return fail("{}: holds no key (make one with `failoverctl genkey PATH`)", name);
    return keys;
}

Result<std::vector<AuthKey>> load_key_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return sys_fail(errno, "key_file {}: can't open", path);
    struct stat st{};
    if (fstat(fd.get(), &st) != 0) return sys_fail(errno, "key_file {}: can't stat", path);
    if (!S_ISREG(st.st_mode)) return fail("key_file {}: not a regular file", path);
    // A key others can read is a key others have.
    if ((st.st_mode & 077) != 0)
        return fail("key_file {}: group or others have access (mode {:04o}); `chmod 600 {}`", path,
                    unsigned(st.st_mode & 07777), path);
    if (st.st_size > 4096) return fail("key_file {}: {} bytes, too large for a key file", path, st.st_size);
    std::string text(size_t(st.st_size), '\0');
    size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_fail(errno, "key_file {}: can't read", path);
        if (n == 0) break;
        got += size_t(n);
    }
    text.resize(got);
    return parse_key_text(text, "key_file " + path);
}

std::string new_key_line() {
    if (sodium_init() < 0) std::abort();  // no randomness: no key
    KeyBytes bytes;
    randombytes_buf(bytes.data(), bytes.size());
    char hex[2 * kAuthKeySize + 1];
    sodium_bin2hex(hex, sizeof hex, bytes.data(), bytes.size());
    sodium_memzero(bytes.data(), bytes.size());
    return std::string(hex) + "\n";
}

Result<void> write_new_key_file(const std::string& path) {
    // O_EXCL: never over a key in use; 0600 whatever the umask says (fchmod below).
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return sys_fail(errno, "can't create key file {}", path);
    if (fchmod(fd.get(), 0600) != 0) return sys_fail(errno, "can't chmod key file {}", path);
    const std::string text = "# tcpfo shared key (failoverctl genkey): the same file on every node\n" + new_key_line();
    if (::write(fd.get(), text.data(), text.size()) != ssize_t(text.size()) || fsync(fd.get()) != 0) {
        const int err = errno;
        ::unlink(path.c_str());
        return sys_fail(err ? err : EIO, "can't write key file {}", path);
    }
    return {};
}

}  // namespace tcpfo
