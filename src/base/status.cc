#include "base/status.h"

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
