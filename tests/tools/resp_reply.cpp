#include "resp_reply.h"

namespace tcpfo::streamtest {

namespace {

constexpr std::size_t kMaxLine = 64;
constexpr long long kMaxBulk = 1 << 20;
constexpr long long kMaxArray = 1024;

// The line at `at` without its CRLF; nullopt when incomplete; error when too long or a
// bare CR/LF.
std::optional<std::string_view> line_at(std::string_view in, std::size_t at, std::string& error) {
    const std::size_t eol = in.find("\r\n", at);
    const std::size_t end = eol == std::string_view::npos ? in.size() : eol;
    if (end - at > kMaxLine) {
        error = "a reply line longer than 64 bytes";
        return std::nullopt;
    }
    if (eol == std::string_view::npos) return std::nullopt;
    const std::string_view line = in.substr(at, eol - at);
    if (line.find_first_of("\r\n") != std::string_view::npos) {
        error = "a bare CR or LF inside a reply line";
        return std::nullopt;
    }
    return line;
}

// One element (not an array) at `at`: its size, or 0 when incomplete / on error.
std::size_t parse_scalar(std::string_view in, std::size_t at, RespReply& out, std::string& error) {
    auto line = line_at(in, at, error);
    if (!line) return 0;
    if (line->empty()) {
        error = "an empty reply line";
        return 0;
    }
    out.type = (*line)[0];
    const std::string_view rest = line->substr(1);
    const std::size_t after_line = at + line->size() + 2;
    switch (out.type) {
    case '+':
    case '-':
        out.text = rest;
        return after_line - at;
    case ':':
        if (!resp_integer(rest)) {
            error = "a malformed integer '" + std::string(rest) + "'";
            return 0;
        }
        out.text = rest;
        return after_line - at;
    case '$': {
        auto len = resp_integer(rest);
        if (!len || *len < -1 || *len > kMaxBulk) {
            error = "a malformed bulk length '" + std::string(rest) + "'";
            return 0;
        }
        if (*len == -1) {
            out.nil = true;
            return after_line - at;
        }
        const std::size_t n = std::size_t(*len);
        if (in.size() < after_line + n + 2) return 0;
        if (in.substr(after_line + n, 2) != "\r\n") {
            error = "a bulk string not ended by CRLF";
            return 0;
        }
        out.text = in.substr(after_line, n);
        return after_line + n + 2 - at;
    }
    default:
        error = "a reply of unknown type '" + std::string(1, out.type) + "'";
        return 0;
    }
}

}  // namespace

std::optional<long long> resp_integer(std::string_view text) {
    const bool negative = !text.empty() && text[0] == '-';
    const std::string_view digits = negative ? text.substr(1) : text;
    if (digits.empty() || digits.size() > 18 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    long long v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return negative ? -v : v;
}

RespParse parse_resp(std::string_view in) {
    RespParse result;
    if (in.empty()) return result;
    if (in[0] != '*') {
        RespReply r;
        const std::size_t n = parse_scalar(in, 0, r, result.error);
        if (n) {
            result.reply = std::move(r);
            result.size = n;
        }
        return result;
    }
    auto line = line_at(in, 0, result.error);
    if (!line) return result;
    auto count = resp_integer(line->substr(1));
    if (!count || *count < -1 || *count > kMaxArray) {
        result.error = "a malformed array length '" + std::string(line->substr(1)) + "'";
        return result;
    }
    RespReply array;
    array.type = '*';
    std::size_t at = line->size() + 2;
    if (*count == -1) {
        array.nil = true;
    } else {
        for (long long i = 0; i < *count; ++i) {
            if (at < in.size() && in[at] == '*') {
                result.error = "a nested array";
                return result;
            }
            RespReply item;
            const std::size_t n = parse_scalar(in, at, item, result.error);
            if (!n) return result;
            array.items.push_back(std::move(item));
            at += n;
        }
    }
    result.reply = std::move(array);
    result.size = at;
    return result;
}

}  // namespace tcpfo::streamtest
