#include "base/status.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>

namespace openrms {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid-argument";
    case Code::kMalformed:
      return "malformed";
    case Code::kTooLarge:
      return "too-large";
    case Code::kBadSignature:
      return "bad-signature";
    case Code::kUnsupported:
      return "unsupported";
    case Code::kUntrusted:
      return "untrusted";
    case Code::kExpired:
      return "expired";
    case Code::kNotYetValid:
      return "not-yet-valid";
    case Code::kNotFound:
      return "not-found";
    case Code::kAlreadyUsed:
      return "already-used";
    case Code::kPermissionDenied:
      return "permission-denied";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kFailedPrecondition:
      return "failed-precondition";
    case Code::kMismatch:
      return "mismatch";
    case Code::kDataLoss:
      return "data-loss";
    case Code::kIo:
      return "io";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace openrms

namespace openrms {

Status ForRemoteCaller(const Status& status) {
  const Code c = status.code();
  if (c != Code::kInternal && c != Code::kIo && c != Code::kDataLoss && c != Code::kUnavailable) {
    return status;
  }
  // Unique enough to find the line in the log; not a secret.
  static std::atomic<uint64_t> counter{std::random_device{}()};
  const uint64_t n =
      counter.fetch_add(0x9E3779B97F4A7C15ull) ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char ref[17];
  std::snprintf(ref, sizeof ref, "%016llx", static_cast<unsigned long long>(n));
  if (c == Code::kUnavailable) {
    // An outage fails every request for as long as it lasts: one line a
    // second says so, not one per request.
    static std::mutex mu;
    static std::chrono::steady_clock::time_point last;
    static uint64_t unlogged = 0;
    std::string line;
    {
      std::lock_guard lock(mu);
      const auto now = std::chrono::steady_clock::now();
      if (last.time_since_epoch().count() != 0 && now - last < std::chrono::seconds(1)) {
        ++unlogged;
      } else {
        line = "error " + std::string(ref) + ": " + status.ToString();
        if (unlogged != 0) {
          line += " (and " + std::to_string(unlogged) + " more such errors in the second before)";
        }
        line += "\n";
        unlogged = 0;
        last = now;
      }
    }
    if (!line.empty()) std::fwrite(line.data(), 1, line.size(), stderr);
    return Status(c, "the service is unavailable for a moment (reference " + std::string(ref) +
                         "): try again in a few seconds");
  }
  const std::string line = "error " + std::string(ref) + ": " + status.ToString() + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write, one line
  return Status(c, "an internal error occurred (reference " + std::string(ref) +
                       "); the server's log has the details");
}

}  // namespace openrms
