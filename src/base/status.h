// Status and Result<T>: errors as values, never exceptions across modules.
//
// A Status carries a Code that tests assert and a message written for the
// person who has to act on it ("the certificate was issued for server X,
// this is server Y").
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace openrms {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is not acceptable
  kMalformed,           // bytes that do not parse as what they claim to be
  kTooLarge,            // input over a size or depth limit
  kBadSignature,        // a signature or digest does not verify
  kUnsupported,         // a well-formed input we do not support (key size, algorithm)
  kUntrusted,           // a chain that does not end at a trusted root
  kExpired,             // outside its validity period (after)
  kNotYetValid,         // outside its validity period (before)
  kNotFound,            // a referenced thing does not exist
  kAlreadyUsed,         // a one-time thing used twice
  kPermissionDenied,    // authenticated, but not allowed
  kUnauthenticated,     // no acceptable credentials
  kFailedPrecondition,  // the system is not in a state that allows this
  kMismatch,            // input that belongs to something else (other key, GUID, server)
  kDataLoss,            // stored state is damaged or inconsistent
  kIo,                  // file system or network trouble
  kUnavailable,         // a peer or service could not be reached
  kInternal,            // a bug or an unexpected library failure
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status final {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code: message", for logs and CLI output.
  std::string ToString() const;

  // Returns a copy whose message is prefixed by `context: `.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// What a remote caller (a licensing client, an enrollment requester) may be
// told. Internal errors (kInternal, kIo, kDataLoss, kUnavailable) carry
// file paths, SQL and library text: they are written to stderr under a new
// reference id, and the caller gets the same code with "an internal error
// occurred (reference ID); the server's log has the details". An outage
// (kUnavailable) gets "the service is unavailable for a moment (reference
// ID): try again in a few seconds", and while it lasts the log gets at most
// one such line a second, which counts the ones it stands for. Any other
// status is the caller's own doing and is returned as it is.
Status ForRemoteCaller(const Status& status);

// A value or an error. Construct from a T or from a non-OK Status.
template <typename T>
class [[nodiscard]] Result final {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace openrms

#define OPENRMS_CONCAT_INNER(a, b) a##b
#define OPENRMS_CONCAT(a, b) OPENRMS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::openrms::Status _openrms_status = (expr);        \
    if (!_openrms_status.ok()) return _openrms_status; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Compute());` unwraps a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(OPENRMS_CONCAT(_openrms_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
