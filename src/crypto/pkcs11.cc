#include "crypto/pkcs11.h"

#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

#include "crypto/password_hash.h"
#include "crypto/sealing.h"
#include "crypto/ssl_util.h"

namespace openrms::crypto {

std::string Pkcs11ErrorName(unsigned long rv) {
  struct Entry {
    CK_RV rv;
    const char* name;
  };
#define OPENRMS_CKR(x) \
  { x, #x }
  static constexpr Entry kNames[] = {
      OPENRMS_CKR(CKR_OK),
      OPENRMS_CKR(CKR_CANCEL),
      OPENRMS_CKR(CKR_HOST_MEMORY),
      OPENRMS_CKR(CKR_SLOT_ID_INVALID),
      OPENRMS_CKR(CKR_GENERAL_ERROR),
      OPENRMS_CKR(CKR_FUNCTION_FAILED),
      OPENRMS_CKR(CKR_ARGUMENTS_BAD),
      OPENRMS_CKR(CKR_CANT_LOCK),
      OPENRMS_CKR(CKR_ATTRIBUTE_READ_ONLY),
      OPENRMS_CKR(CKR_ATTRIBUTE_SENSITIVE),
      OPENRMS_CKR(CKR_ATTRIBUTE_TYPE_INVALID),
      OPENRMS_CKR(CKR_ATTRIBUTE_VALUE_INVALID),
      OPENRMS_CKR(CKR_DATA_INVALID),
      OPENRMS_CKR(CKR_DATA_LEN_RANGE),
      OPENRMS_CKR(CKR_DEVICE_ERROR),
      OPENRMS_CKR(CKR_DEVICE_MEMORY),
      OPENRMS_CKR(CKR_DEVICE_REMOVED),
      OPENRMS_CKR(CKR_ENCRYPTED_DATA_INVALID),
      OPENRMS_CKR(CKR_ENCRYPTED_DATA_LEN_RANGE),
      OPENRMS_CKR(CKR_FUNCTION_CANCELED),
      OPENRMS_CKR(CKR_FUNCTION_NOT_SUPPORTED),
      OPENRMS_CKR(CKR_KEY_HANDLE_INVALID),
      OPENRMS_CKR(CKR_KEY_SIZE_RANGE),
      OPENRMS_CKR(CKR_KEY_TYPE_INCONSISTENT),
      OPENRMS_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED),
      OPENRMS_CKR(CKR_KEY_UNEXTRACTABLE),
      OPENRMS_CKR(CKR_MECHANISM_INVALID),
      OPENRMS_CKR(CKR_MECHANISM_PARAM_INVALID),
      OPENRMS_CKR(CKR_OBJECT_HANDLE_INVALID),
      OPENRMS_CKR(CKR_OPERATION_ACTIVE),
      OPENRMS_CKR(CKR_OPERATION_NOT_INITIALIZED),
      OPENRMS_CKR(CKR_PIN_INCORRECT),
      OPENRMS_CKR(CKR_PIN_INVALID),
      OPENRMS_CKR(CKR_PIN_LEN_RANGE),
      OPENRMS_CKR(CKR_PIN_EXPIRED),
      OPENRMS_CKR(CKR_PIN_LOCKED),
      OPENRMS_CKR(CKR_SESSION_CLOSED),
      OPENRMS_CKR(CKR_SESSION_COUNT),
      OPENRMS_CKR(CKR_SESSION_HANDLE_INVALID),
      OPENRMS_CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
      OPENRMS_CKR(CKR_SESSION_READ_ONLY),
      OPENRMS_CKR(CKR_SESSION_EXISTS),
      OPENRMS_CKR(CKR_SIGNATURE_INVALID),
      OPENRMS_CKR(CKR_SIGNATURE_LEN_RANGE),
      OPENRMS_CKR(CKR_TEMPLATE_INCOMPLETE),
      OPENRMS_CKR(CKR_TEMPLATE_INCONSISTENT),
      OPENRMS_CKR(CKR_TOKEN_NOT_PRESENT),
      OPENRMS_CKR(CKR_TOKEN_NOT_RECOGNIZED),
      OPENRMS_CKR(CKR_TOKEN_WRITE_PROTECTED),
      OPENRMS_CKR(CKR_USER_ALREADY_LOGGED_IN),
      OPENRMS_CKR(CKR_USER_NOT_LOGGED_IN),
      OPENRMS_CKR(CKR_USER_PIN_NOT_INITIALIZED),
      OPENRMS_CKR(CKR_USER_TYPE_INVALID),
      OPENRMS_CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
      OPENRMS_CKR(CKR_USER_TOO_MANY_TYPES),
      OPENRMS_CKR(CKR_RANDOM_NO_RNG),
      OPENRMS_CKR(CKR_DOMAIN_PARAMS_INVALID),
      OPENRMS_CKR(CKR_BUFFER_TOO_SMALL),
      OPENRMS_CKR(CKR_CRYPTOKI_NOT_INITIALIZED),
      OPENRMS_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED),
      OPENRMS_CKR(CKR_MUTEX_BAD),
      OPENRMS_CKR(CKR_MUTEX_NOT_LOCKED),
      OPENRMS_CKR(CKR_FUNCTION_REJECTED),
  };
#undef OPENRMS_CKR
  for (const Entry& e : kNames) {
    if (e.rv == rv) return e.name;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR_0x%lx", rv);
  return buf;
}

namespace {

Code CodeFor(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
      return Code::kPermissionDenied;
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_COUNT:
      return Code::kUnavailable;
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_PIN_LEN_RANGE:
      return Code::kInvalidArgument;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_SIZE_RANGE:
      return Code::kUnsupported;
    default:
      return Code::kInternal;
  }
}

Status CkError(CK_RV rv, std::string_view what) {
  return Status(CodeFor(rv), std::string(what) + " (" + Pkcs11ErrorName(rv) + ")");
}

// Answers about the request or the data; the session is fine afterwards.
// Anything else retires the session rather than hand it to the next caller.
bool LeavesSessionUsable(CK_RV rv) {
  switch (rv) {
    case CKR_OK:
    case CKR_ARGUMENTS_BAD:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
      return true;
    default:
      return false;
  }
}

CK_BYTE* Bytes(std::string_view s) {
  return reinterpret_cast<CK_BYTE*>(const_cast<char*>(s.data()));
}

std::string FromPadded(const unsigned char* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A key's bytes that must not outlive their use.
struct SecretBytes {
  std::string bytes;
  ~SecretBytes() { Wipe(bytes); }
};

// --- Modules: one dlopen and C_Initialize per path and process.

class Module {
 public:
  static Result<std::shared_ptr<Module>> Load(const std::string& path);
  ~Module() {
    if (finalize_) functions_->C_Finalize(nullptr);
    dlclose(handle_);
  }
  CK_FUNCTION_LIST* f() const { return functions_; }
  const std::string& path() const { return path_; }  // as configured

  // The tokens logged into through this module, by slot. Guarded by `mu`;
  // `cv` is told when an entry goes.
  std::mutex mu;
  std::condition_variable cv;
  std::map<CK_SLOT_ID, std::weak_ptr<Pkcs11Token>> tokens;

 private:
  Module(std::string path, std::string key, void* handle, CK_FUNCTION_LIST* f, bool finalize)
      : path_(std::move(path)),
        key_(std::move(key)),
        handle_(handle),
        functions_(f),
        finalize_(finalize) {}
  std::string path_;
  std::string key_;  // the canonical path: two spellings of one file are one module
  void* handle_;
  CK_FUNCTION_LIST* functions_;
  bool finalize_;  // false when someone else in the process initialised it
};

struct ModuleRegistry {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::weak_ptr<Module>> modules;
};
ModuleRegistry& Modules() {
  static auto* registry = new ModuleRegistry;  // never destroyed: used by late deleters
  return *registry;
}

Result<std::shared_ptr<Module>> Module::Load(const std::string& path) {
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec || key.empty()) key = path;
  std::shared_ptr<Module> existing;  // released after the lock (its deleter locks)
  ModuleRegistry& r = Modules();
  std::unique_lock lock(r.mu);
  for (;;) {
    auto it = r.modules.find(key);
    if (it == r.modules.end()) break;
    existing = it->second.lock();
    if (existing) return existing;
    r.cv.wait(lock);  // the last user is finalising it; wait, then load it anew
  }
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      // A bare name is looked up on the library path: then dlopen says more.
      return Status(Code::kNotFound,
                    "PKCS#11 module not found: " + path +
                        (path.find('/') == std::string::npos && why ? std::string(" (") + why + ")"
                                                                    : std::string()));
    }
    return Status(Code::kFailedPrecondition,
                  "cannot load the PKCS#11 module " + path + ": " + (why ? why : "dlopen failed"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* f = nullptr;
  if (get_list == nullptr) {
    dlclose(handle);
    return Status(Code::kInvalidArgument,
                  path + " is not a PKCS#11 module (it has no C_GetFunctionList)");
  }
  if (CK_RV rv = get_list(&f); rv != CKR_OK || f == nullptr) {
    dlclose(handle);
    return CkError(rv, "C_GetFunctionList of " + path + " failed");
  }
  // Sessions are used from many threads at once: the module must lock.
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = f->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(handle);
    return CkError(rv, "cannot initialise the PKCS#11 module " + path);
  }
  auto* m = new Module(path, key, handle, f, rv == CKR_OK);
  std::shared_ptr<Module> shared(m, [](Module* dying) {
    ModuleRegistry& reg = Modules();
    std::lock_guard guard(reg.mu);
    const std::string dying_key = dying->key_;
    delete dying;  // C_Finalize before a new Load may C_Initialize again
    reg.modules.erase(dying_key);
    reg.cv.notify_all();
  });
  r.modules[key] = shared;
  return shared;
}

}  // namespace

// --- Tokens and their sessions.

struct Pkcs11Token::Impl {
  ~Impl() {
    for (CK_SESSION_HANDLE s : idle) f->C_CloseSession(s);
    f->C_CloseSession(anchor);  // the last session: the login ends with it
  }

  std::shared_ptr<Module> module;  // first: outlives the sessions closed above
  CK_FUNCTION_LIST* f = nullptr;
  CK_SLOT_ID slot = 0;
  CK_TOKEN_INFO info{};
  std::string label;
  // Login state belongs to the application, not to a session, and ends
  // when its last session closes: this one stays open for that.
  CK_SESSION_HANDLE anchor = CK_INVALID_HANDLE;
  std::string pin_salt;
  std::string pin_digest;  // SHA-256(salt || PIN), to check a second Open

  std::mutex mu;  // guards `idle` only; never held during a token call
  std::vector<CK_SESSION_HANDLE> idle;

  // Whether the token does CKM_RSA_PKCS_OAEP with SHA-256 itself.
  enum : int { kOaepUnknown, kOaepNative, kOaepRaw };
  std::atomic<int> oaep{kOaepUnknown};
};

namespace {

// Sessions kept open for reuse beyond those in use.
constexpr size_t kMaxIdleSessions = 16;

// A session leased from a token's pool; returned on destruction, or closed
// when a call failed in a way that may have left it in a bad state.
class Session {
 public:
  Session(Pkcs11Token::Impl* t, CK_SESSION_HANDLE h) : t_(t), h_(h) {}
  Session(Session&& o) noexcept : t_(o.t_), h_(o.h_), usable_(o.usable_) { o.t_ = nullptr; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session& operator=(Session&&) = delete;
  ~Session() {
    if (t_ == nullptr) return;
    if (usable_) {
      std::lock_guard lock(t_->mu);
      if (t_->idle.size() < kMaxIdleSessions) {
        t_->idle.push_back(h_);
        return;
      }
    }
    t_->f->C_CloseSession(h_);
  }

  CK_FUNCTION_LIST* f() const { return t_->f; }
  CK_SESSION_HANDLE h() const { return h_; }
  CK_RV Check(CK_RV rv) {
    if (!LeavesSessionUsable(rv)) usable_ = false;
    return rv;
  }

 private:
  Pkcs11Token::Impl* t_;
  CK_SESSION_HANDLE h_;
  bool usable_ = true;
};

Result<CK_SESSION_HANDLE> OpenSession(CK_FUNCTION_LIST* f, CK_SLOT_ID slot,
                                      std::string_view label) {
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  const CK_RV rv =
      f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h);
  if (rv != CKR_OK) return CkError(rv, "cannot open a session with token " + Quoted(label));
  return h;
}

// New sessions share the application's login, so a fresh one is ready.
Result<Session> Acquire(Pkcs11Token::Impl& t) {
  {
    std::lock_guard lock(t.mu);
    if (!t.idle.empty()) {
      const CK_SESSION_HANDLE h = t.idle.back();
      t.idle.pop_back();
      return Session(&t, h);
    }
  }
  ASSIGN_OR_RETURN(CK_SESSION_HANDLE h, OpenSession(t.f, t.slot, t.label));
  return Session(&t, h);
}

std::string PinDigest(std::string_view salt, std::string_view pin) {
  std::string in = std::string(salt) + std::string(pin);
  std::string out = Sha256(in);
  Wipe(in);
  return out;
}

Status WrongPin(std::string_view label, std::string_view detail) {
  return Status(Code::kPermissionDenied,
                "wrong PIN for token " + Quoted(label) + " (" + std::string(detail) + ")");
}

struct FoundSlot {
  CK_SLOT_ID slot;
  CK_TOKEN_INFO info;
};

Result<FoundSlot> FindSlot(Module& m, std::string_view label) {
  CK_FUNCTION_LIST* f = m.f();
  std::vector<CK_SLOT_ID> slots;
  for (;;) {
    CK_ULONG n = 0;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &n);
    if (rv != CKR_OK) return CkError(rv, "cannot list the slots of " + m.path());
    slots.resize(n);
    rv = f->C_GetSlotList(CK_TRUE, slots.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) continue;  // a token came in between
    if (rv != CKR_OK) return CkError(rv, "cannot list the slots of " + m.path());
    slots.resize(n);
    break;
  }
  std::vector<FoundSlot> matches;
  std::string present;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (f->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    const std::string l = FromPadded(info.label, sizeof info.label);
    if (l == label) matches.push_back({slot, info});
    present += (present.empty() ? "" : ", ") + Quoted(l);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.size() > 1) {
    return Status(Code::kFailedPrecondition, std::to_string(matches.size()) +
                                                 " tokens are labelled " + Quoted(label) +
                                                 " in PKCS#11 module " + m.path());
  }
  return Status(Code::kNotFound,
                "no token labelled " + Quoted(label) + " in PKCS#11 module " + m.path() +
                    "; tokens present: " + (present.empty() ? "none (initialised)" : present));
}

}  // namespace

Pkcs11Token::Pkcs11Token(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pkcs11Token::~Pkcs11Token() = default;
const std::string& Pkcs11Token::label() const { return impl_->label; }
const std::string& Pkcs11Token::module_path() const { return impl_->module->path(); }

Result<std::shared_ptr<Pkcs11Token>> Pkcs11Token::Open(const std::string& module_path,
                                                       std::string_view token_label,
                                                       std::string_view pin) {
  if (token_label.empty() || token_label.size() > sizeof(CK_TOKEN_INFO{}.label)) {
    return Status(Code::kInvalidArgument,
                  "a token label is 1 to 32 bytes, not " + Quoted(token_label));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Module> module, Module::Load(module_path));
  ASSIGN_OR_RETURN(FoundSlot found, FindSlot(*module, token_label));

  std::shared_ptr<Pkcs11Token> existing;  // released after the lock (its deleter locks)
  std::unique_lock lock(module->mu);
  for (;;) {
    auto it = module->tokens.find(found.slot);
    if (it == module->tokens.end()) break;
    existing = it->second.lock();
    if (existing) {
      const Impl& t = *existing->impl_;
      if (!SecretEquals(PinDigest(t.pin_salt, pin), t.pin_digest)) {
        return WrongPin(token_label, "not the PIN it is open with in this process");
      }
      return existing;
    }
    module->cv.wait(lock);  // its last user is closing it
  }

  CK_FUNCTION_LIST* f = module->f();
  ASSIGN_OR_RETURN(CK_SESSION_HANDLE anchor, OpenSession(f, found.slot, token_label));
  std::string pin_copy(pin);  // C_Login takes a non-const pointer
  const CK_RV rv = f->C_Login(anchor, CKU_USER, Bytes(pin_copy), pin_copy.size());
  Wipe(pin_copy);
  // CKR_USER_ALREADY_LOGGED_IN: another part of this process logged in
  // without this registry (a library of its own); the login is shared.
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    f->C_CloseSession(anchor);
    if (rv == CKR_PIN_INCORRECT) return WrongPin(token_label, Pkcs11ErrorName(rv));
    return CkError(rv, "cannot log in to token " + Quoted(token_label));
  }

  auto impl = std::make_unique<Impl>();
  impl->module = module;
  impl->f = f;
  impl->slot = found.slot;
  impl->info = found.info;
  impl->label = std::string(token_label);
  impl->anchor = anchor;
  impl->pin_salt.resize(16);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(impl->pin_salt.data()), 16) != 1) {
    return SslError(Code::kInternal, "RAND_bytes");  // ~Impl closes the session
  }
  impl->pin_digest = PinDigest(impl->pin_salt, pin);

  std::shared_ptr<Pkcs11Token> token(new Pkcs11Token(std::move(impl)), [](Pkcs11Token* dying) {
    std::shared_ptr<Module> m = dying->impl_->module;  // dropped after the lock
    std::lock_guard guard(m->mu);
    const CK_SLOT_ID slot = dying->impl_->slot;
    delete dying;  // closes its sessions, and so logs out
    m->tokens.erase(slot);
    m->cv.notify_all();
  });
  module->tokens[found.slot] = token;
  return token;
}

namespace {

using UriPtr = std::unique_ptr<P11KitUri, Deleter<p11_kit_uri_free>>;

// The URI for messages, with any pin-value hidden.
std::string Redacted(std::string_view uri) {
  std::string out(uri);
  for (size_t at = out.find("pin-value="); at != std::string::npos;
       at = out.find("pin-value=", at + 1)) {
    const size_t start = at + 10;
    const size_t end = out.find_first_of(";&", start);
    out.replace(start, (end == std::string::npos ? out.size() : end) - start, "***");
  }
  return out;
}

Result<UriPtr> ParseUri(std::string_view text) {
  UriPtr uri(p11_kit_uri_new());
  const std::string s(text);
  const int rc = p11_kit_uri_parse(s.c_str(), P11_KIT_URI_FOR_ANY, uri.get());
  if (rc != P11_KIT_URI_OK) {
    return Status(Code::kInvalidArgument, "not a PKCS#11 URI (RFC 7512): " + Redacted(text) + ": " +
                                              p11_kit_uri_message(rc));
  }
  if (p11_kit_uri_get_pin_value(uri.get()) != nullptr ||
      p11_kit_uri_get_pin_source(uri.get()) != nullptr) {
    return Status(Code::kInvalidArgument,
                  "the PKCS#11 URI " + Redacted(text) +
                      " carries a PIN (pin-value, pin-source); the PIN comes from configuration");
  }
  if (p11_kit_uri_any_unrecognized(uri.get())) {
    return Status(Code::kInvalidArgument,
                  "the PKCS#11 URI " + std::string(text) +
                      " has an attribute or value that is not understood (known: token, "
                      "manufacturer, serial, model, object, id, type=private|public|cert...)");
  }
  return uri;
}

// kMismatch unless the URI's module, slot and token parts fit `t`.
Status CheckToken(P11KitUri* uri, const Pkcs11Token::Impl& t, std::string_view text) {
  const char* module_path = p11_kit_uri_get_module_path(uri);
  CK_INFO module_info{};
  CK_SLOT_INFO slot_info{};
  const CK_SLOT_ID slot_id = p11_kit_uri_get_slot_id(uri);
  const bool fits = (module_path == nullptr || t.module->path() == module_path) &&
                    (t.f->C_GetInfo(&module_info) != CKR_OK ||
                     p11_kit_uri_match_module_info(uri, &module_info)) &&
                    (slot_id == static_cast<CK_SLOT_ID>(-1) || slot_id == t.slot) &&
                    (t.f->C_GetSlotInfo(t.slot, &slot_info) != CKR_OK ||
                     p11_kit_uri_match_slot_info(uri, &slot_info)) &&
                    p11_kit_uri_match_token_info(uri, &t.info);
  if (fits) return Status::Ok();
  return Status(Code::kMismatch, "the PKCS#11 URI " + std::string(text) +
                                     " names another token than " + Quoted(t.label) +
                                     " of module " + t.module->path());
}

std::string TokenLabelOf(P11KitUri* uri) {
  const CK_TOKEN_INFO* info = p11_kit_uri_get_token_info(uri);
  return FromPadded(info->label, sizeof info->label);
}

// The URI of a private key: token label, object label, type=private.
std::string KeyUri(const CK_TOKEN_INFO& token, std::string_view label) {
  UriPtr uri(p11_kit_uri_new());
  std::memcpy(p11_kit_uri_get_token_info(uri.get())->label, token.label, sizeof token.label);
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE attrs[] = {{CKA_LABEL, Bytes(label), label.size()}, {CKA_CLASS, &cls, sizeof cls}};
  for (CK_ATTRIBUTE& a : attrs) p11_kit_uri_set_attribute(uri.get(), &a);
  char* text = nullptr;
  if (p11_kit_uri_format(uri.get(), P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &text) != P11_KIT_URI_OK) {
    return {};
  }
  std::string out(text);
  std::free(text);
  return out;
}

Result<std::vector<CK_OBJECT_HANDLE>> FindObjects(Session& s, std::vector<CK_ATTRIBUTE> tmpl,
                                                  std::string_view what) {
  CK_RV rv = s.Check(s.f()->C_FindObjectsInit(s.h(), tmpl.data(), tmpl.size()));
  if (rv != CKR_OK) return CkError(rv, "cannot search the token for " + std::string(what));
  std::vector<CK_OBJECT_HANDLE> found;
  CK_OBJECT_HANDLE batch[16];
  CK_ULONG n = 0;
  do {
    rv = s.Check(s.f()->C_FindObjects(s.h(), batch, 16, &n));
    if (rv != CKR_OK) break;
    found.insert(found.end(), batch, batch + n);
  } while (n == 16 && found.size() < 1024);
  const CK_RV final_rv = s.Check(s.f()->C_FindObjectsFinal(s.h()));
  if (rv == CKR_OK) rv = final_rv;
  if (rv != CKR_OK) return CkError(rv, "cannot search the token for " + std::string(what));
  return found;
}

Result<std::string> GetAttribute(Session& s, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                                 std::string_view what) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = s.Check(s.f()->C_GetAttributeValue(s.h(), object, &a, 1));
  if (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION) rv = CKR_ATTRIBUTE_SENSITIVE;
  if (rv != CKR_OK) return CkError(rv, "cannot read " + std::string(what));
  std::string value(a.ulValueLen, '\0');
  a.pValue = value.data();
  rv = s.Check(s.f()->C_GetAttributeValue(s.h(), object, &a, 1));
  if (rv != CKR_OK) return CkError(rv, "cannot read " + std::string(what));
  value.resize(a.ulValueLen);
  return value;
}

Result<PublicKey> PublicKeyFromParts(std::string_view modulus, std::string_view exponent) {
  while (!exponent.empty() && exponent.front() == '\0') exponent.remove_prefix(1);
  if (exponent.size() > 4) return Status(Code::kUnsupported, "RSA public exponent too large");
  uint32_t e = 0;
  for (unsigned char c : exponent) e = (e << 8) | c;
  return PublicKey::FromModulus(modulus, e);
}

// The public half, read once: from the private object (CKA_MODULUS and
// CKA_PUBLIC_EXPONENT are public even there), else from the public object
// with the same CKA_ID.
Result<PublicKey> ReadPublicKey(Session& s, CK_OBJECT_HANDLE priv, std::string_view uri) {
  auto modulus = GetAttribute(s, priv, CKA_MODULUS, "the modulus of " + std::string(uri));
  auto exponent =
      GetAttribute(s, priv, CKA_PUBLIC_EXPONENT, "the public exponent of " + std::string(uri));
  if (modulus.ok() && exponent.ok()) return PublicKeyFromParts(*modulus, *exponent);

  ASSIGN_OR_RETURN(std::string id,
                   GetAttribute(s, priv, CKA_ID, "the CKA_ID of " + std::string(uri)));
  CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
  ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> pubs,
                   FindObjects(s, {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, Bytes(id), id.size()}},
                               "the public key of " + std::string(uri)));
  if (pubs.size() != 1) {
    return Status(Code::kNotFound,
                  "cannot read the public key of " + std::string(uri) +
                      ": the private object does not show it and there is no single public "
                      "object with its CKA_ID");
  }
  ASSIGN_OR_RETURN(std::string n, GetAttribute(s, pubs[0], CKA_MODULUS, "the modulus"));
  ASSIGN_OR_RETURN(std::string e,
                   GetAttribute(s, pubs[0], CKA_PUBLIC_EXPONENT, "the public exponent"));
  return PublicKeyFromParts(n, e);
}

// The one private key the URI names (the token parts already checked).
Result<CK_OBJECT_HANDLE> FindPrivateKey(Session& s, P11KitUri* uri, const Pkcs11Token::Impl& t,
                                        std::string_view text) {
  const CK_ATTRIBUTE* cls_attr = p11_kit_uri_get_attribute(uri, CKA_CLASS);
  if (cls_attr != nullptr &&
      (cls_attr->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
       *static_cast<const CK_OBJECT_CLASS*>(cls_attr->pValue) != CKO_PRIVATE_KEY)) {
    return Status(Code::kInvalidArgument, "the PKCS#11 URI " + std::string(text) +
                                              " names something other than a private key "
                                              "(type=private)");
  }
  CK_ATTRIBUTE* label = p11_kit_uri_get_attribute(uri, CKA_LABEL);
  CK_ATTRIBUTE* id = p11_kit_uri_get_attribute(uri, CKA_ID);
  if (label == nullptr && id == nullptr) {
    return Status(Code::kInvalidArgument,
                  "the PKCS#11 URI " + std::string(text) + " names no key (object=... or id=...)");
  }
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof cls}};
  if (label != nullptr) tmpl.push_back(*label);
  if (id != nullptr) tmpl.push_back(*id);
  ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found, FindObjects(s, tmpl, text));
  if (found.empty()) {
    return Status(Code::kNotFound,
                  "no private key in token " + Quoted(t.label) + " matches " + std::string(text));
  }
  if (found.size() > 1) {
    return Status(Code::kFailedPrecondition,
                  std::to_string(found.size()) + " private keys in token " + Quoted(t.label) +
                      " match " + std::string(text) + "; add id=... to the URI");
  }
  ASSIGN_OR_RETURN(std::string type, GetAttribute(s, found[0], CKA_KEY_TYPE, "the key type"));
  CK_KEY_TYPE key_type = ~CK_KEY_TYPE{0};
  if (type.size() == sizeof key_type) std::memcpy(&key_type, type.data(), sizeof key_type);
  if (key_type != CKK_RSA) {
    return Status(Code::kUnsupported, std::string(text) + " is not an RSA key");
  }
  return found[0];
}

// A private key in a token: signing and decryption happen there.
class Pkcs11PrivateKey final : public PrivateKey {
 public:
  Pkcs11PrivateKey(std::shared_ptr<Pkcs11Token> token, CK_OBJECT_HANDLE handle, PublicKey pub,
                   std::string uri)
      : token_(std::move(token)), handle_(handle), public_(std::move(pub)), uri_(std::move(uri)) {}

  const PublicKey& public_key() const override { return public_; }

  Result<std::string> Sign(DigestAlgorithm algorithm, std::string_view data) const override {
    ASSIGN_OR_RETURN(Session s, Acquire(token_->impl()));
    CK_MECHANISM mech{algorithm == DigestAlgorithm::kSha1 ? CKM_SHA1_RSA_PKCS : CKM_SHA256_RSA_PKCS,
                      nullptr, 0};
    CK_RV rv = s.Check(s.f()->C_SignInit(s.h(), &mech, handle_));
    if (rv != CKR_OK) return CkError(rv, "cannot start signing with " + uri_);
    const size_t k = public_.modulus_be().size();
    std::string sig(k, '\0');
    CK_ULONG len = sig.size();
    rv = s.Check(s.f()->C_Sign(s.h(), Bytes(data), data.size(), Bytes(sig), &len));
    if (rv != CKR_OK) return CkError(rv, "signing with " + uri_ + " failed");
    if (len > k) return Status(Code::kInternal, "the token returned an overlong signature");
    sig.resize(len);
    sig.insert(0, k - len, '\0');  // a signature is exactly as long as the modulus
    return sig;
  }

  using PrivateKey::Decrypt;
  Result<std::string> Decrypt(RsaPadding padding, std::string_view ciphertext) const override {
    const size_t k = public_.modulus_be().size();
    if (ciphertext.size() != k) {
      return Status(Code::kInvalidArgument,
                    "the data was not encrypted to this key (" + std::to_string(ciphertext.size()) +
                        " bytes; a ciphertext for this " + std::to_string(public_.bits()) +
                        "-bit key is " + std::to_string(k) + ")");
    }
    Pkcs11Token::Impl& t = token_->impl();
    ASSIGN_OR_RETURN(Session s, Acquire(t));
    if (padding != RsaPadding::kOaepSha256) {
      // OAEP with SHA-1 and PKCS#1 v1.5 are the mechanisms every token has.
      CK_RSA_PKCS_OAEP_PARAMS params{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
      CK_MECHANISM mech{CKM_RSA_PKCS_OAEP, &params, sizeof params};
      if (padding == RsaPadding::kPkcs1v15) mech = CK_MECHANISM{CKM_RSA_PKCS, nullptr, 0};
      const CK_RV rv = s.Check(s.f()->C_DecryptInit(s.h(), &mech, handle_));
      if (rv != CKR_OK) return CkError(rv, "cannot start decrypting with " + uri_);
      auto plain = FinishDecrypt(s, ciphertext);
      // Tokens answer a padding that does not check with different codes
      // (SoftHSM2: CKR_GENERAL_ERROR); all of them read the same here, as
      // they do for a software key, so that none tells more than another.
      if (!plain.ok() && plain.status().code() != Code::kUnavailable) {
        return Status(Code::kInvalidArgument, "the data was not encrypted to this key");
      }
      return plain;
    }
    const int mode = t.oaep.load(std::memory_order_relaxed);
    if (mode != Pkcs11Token::Impl::kOaepRaw) {
      CK_RSA_PKCS_OAEP_PARAMS params{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
      CK_MECHANISM mech{CKM_RSA_PKCS_OAEP, &params, sizeof params};
      const CK_RV rv = s.Check(s.f()->C_DecryptInit(s.h(), &mech, handle_));
      if (rv == CKR_OK) {
        t.oaep.store(Pkcs11Token::Impl::kOaepNative, std::memory_order_relaxed);
        return FinishDecrypt(s, ciphertext);
      }
      const bool refused = rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
                           rv == CKR_ARGUMENTS_BAD;
      if (!refused || mode == Pkcs11Token::Impl::kOaepNative) {
        return CkError(rv, "cannot start decrypting with " + uri_);
      }
      t.oaep.store(Pkcs11Token::Impl::kOaepRaw, std::memory_order_relaxed);
    }
    // SoftHSM2 2.6.1 (and other tokens) refuse OAEP with SHA-256 (it accepts
    // SHA-1 only). Then the token does raw RSA (CKM_RSA_X_509; the key does
    // not leave it) and OpenSSL removes the OAEP padding, in constant time.
    CK_MECHANISM raw{CKM_RSA_X_509, nullptr, 0};
    const CK_RV rv = s.Check(s.f()->C_DecryptInit(s.h(), &raw, handle_));
    if (rv != CKR_OK) return CkError(rv, "cannot start decrypting with " + uri_);
    ASSIGN_OR_RETURN(std::string block, FinishDecrypt(s, ciphertext));
    SecretBytes em{std::move(block)};
    if (em.bytes.size() > k) return Status(Code::kInternal, "the token returned an overlong block");
    em.bytes.insert(0, k - em.bytes.size(), '\0');
    SecretBytes out{std::string(k, '\0')};
    // The EVP interface has no way to remove padding alone; the deprecated
    // function is the one OpenSSL's own RSA decryption uses.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const int n = RSA_padding_check_PKCS1_OAEP_mgf1(
        reinterpret_cast<unsigned char*>(out.bytes.data()), static_cast<int>(k),
        reinterpret_cast<const unsigned char*>(em.bytes.data()), static_cast<int>(k),
        static_cast<int>(k), nullptr, 0, EVP_sha256(), EVP_sha256());
#pragma GCC diagnostic pop
    ERR_clear_error();
    if (n < 0) return Status(Code::kInvalidArgument, "the data was not encrypted to this key");
    return std::string(out.bytes.data(), static_cast<size_t>(n));
  }

 private:
  Result<std::string> FinishDecrypt(Session& s, std::string_view ciphertext) const {
    std::string out(public_.modulus_be().size(), '\0');
    CK_ULONG len = out.size();
    const CK_RV rv =
        s.Check(s.f()->C_Decrypt(s.h(), Bytes(ciphertext), ciphertext.size(), Bytes(out), &len));
    if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE) {
      Wipe(out);
      return CkError(rv, "the data was not encrypted to this key");
    }
    if (rv != CKR_OK) {
      Wipe(out);
      return CkError(rv, "decrypting with " + uri_ + " failed");
    }
    out.resize(len);
    return out;
  }

  std::shared_ptr<Pkcs11Token> token_;
  CK_OBJECT_HANDLE handle_;  // valid for the process while a session is open
  PublicKey public_;
  std::string uri_;
};

Result<std::unique_ptr<PrivateKey>> MakeKey(std::shared_ptr<Pkcs11Token> token, Session& s,
                                            CK_OBJECT_HANDLE handle, std::string uri) {
  ASSIGN_OR_RETURN(PublicKey pub, ReadPublicKey(s, handle, uri));
  return std::unique_ptr<PrivateKey>(
      new Pkcs11PrivateKey(std::move(token), handle, std::move(pub), std::move(uri)));
}

// A key just made or imported: opened as any other, or removed again so a
// failure leaves no half key behind. `expected` is the imported public key.
Result<Pkcs11Key> Finish(std::shared_ptr<Pkcs11Token> token, Session& s, CK_OBJECT_HANDLE priv,
                         CK_OBJECT_HANDLE pub, std::string_view label, const PublicKey* expected) {
  std::string uri = KeyUri(token->impl().info, label);
  auto key = MakeKey(std::move(token), s, priv, uri);
  Status status = key.status();
  if (status.ok() && expected != nullptr && !((*key)->public_key() == *expected)) {
    status = Status(Code::kDataLoss, "the token shows another public key than the one imported");
  }
  if (!status.ok()) {
    s.f()->C_DestroyObject(s.h(), priv);
    s.f()->C_DestroyObject(s.h(), pub);
    return status;
  }
  return Pkcs11Key{std::move(*key), std::move(uri)};
}

Status CheckNewLabel(Session& s, const Pkcs11Token::Impl& t, std::string_view label) {
  if (label.empty() || label.size() > 128) {
    return Status(Code::kInvalidArgument, "a key label is 1 to 128 bytes");
  }
  ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found,
                   FindObjects(s, {{CKA_LABEL, Bytes(label), label.size()}}, label));
  if (!found.empty()) {
    return Status(Code::kFailedPrecondition,
                  "token " + Quoted(t.label) + " already has an object labelled " + Quoted(label) +
                      "; choose another label or delete it with the token's tools");
  }
  return Status::Ok();
}

Result<std::string> NewKeyId() {
  std::string id(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(id.data()), 16) != 1) {
    return SslError(Code::kInternal, "RAND_bytes");
  }
  return id;
}

Result<std::string> BnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (!EVP_PKEY_get_bn_param(pkey, name, &raw)) {
    ERR_clear_error();
    return Status(Code::kUnsupported, "the sealed key is not a two-prime RSA key");
  }
  std::unique_ptr<BIGNUM, Deleter<BN_clear_free>> bn(raw);
  std::string out(static_cast<size_t>(BN_num_bytes(raw)), '\0');
  BN_bn2bin(raw, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

Result<std::unique_ptr<PrivateKey>> OpenPkcs11Key(std::shared_ptr<Pkcs11Token> token,
                                                  std::string_view uri) {
  ASSIGN_OR_RETURN(UriPtr parsed, ParseUri(uri));
  Pkcs11Token::Impl& t = token->impl();
  RETURN_IF_ERROR(CheckToken(parsed.get(), t, uri));
  ASSIGN_OR_RETURN(Session s, Acquire(t));
  ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, FindPrivateKey(s, parsed.get(), t, uri));
  return MakeKey(std::move(token), s, handle, std::string(uri));
}

Result<std::unique_ptr<PrivateKey>> OpenPkcs11Key(const std::string& module_path,
                                                  std::string_view uri, std::string_view pin) {
  ASSIGN_OR_RETURN(UriPtr parsed, ParseUri(uri));
  const std::string label = TokenLabelOf(parsed.get());
  if (label.empty()) {
    return Status(Code::kInvalidArgument,
                  "the PKCS#11 URI " + std::string(uri) + " does not name its token (token=...)");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Token> token, Pkcs11Token::Open(module_path, label, pin));
  return OpenPkcs11Key(std::move(token), uri);
}

Result<Pkcs11Key> GenerateRsaKey(std::shared_ptr<Pkcs11Token> token, std::string_view label,
                                 int bits) {
  if (!IsSupportedRsaBits(bits) || bits < 2048) {
    return Status(Code::kUnsupported, "new keys must be 2048, 3072 or 4096 bits");
  }
  Pkcs11Token::Impl& t = token->impl();
  ASSIGN_OR_RETURN(Session s, Acquire(t));
  RETURN_IF_ERROR(CheckNewLabel(s, t, label));
  ASSIGN_OR_RETURN(std::string id, NewKeyId());

  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
  CK_KEY_TYPE rsa = CKK_RSA;
  CK_ULONG modulus_bits = static_cast<CK_ULONG>(bits);
  CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  CK_ATTRIBUTE pub[] = {
      {CKA_CLASS, &pub_class, sizeof pub_class},
      {CKA_KEY_TYPE, &rsa, sizeof rsa},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &no, sizeof no},
      {CKA_VERIFY, &yes, sizeof yes},
      {CKA_ENCRYPT, &yes, sizeof yes},
      {CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits},
      {CKA_PUBLIC_EXPONENT, exponent, sizeof exponent},
      {CKA_LABEL, Bytes(label), label.size()},
      {CKA_ID, Bytes(id), id.size()},
  };
  CK_ATTRIBUTE priv[] = {
      {CKA_CLASS, &priv_class, sizeof priv_class},
      {CKA_KEY_TYPE, &rsa, sizeof rsa},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_SIGN, &yes, sizeof yes},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_LABEL, Bytes(label), label.size()},
      {CKA_ID, Bytes(id), id.size()},
  };
  CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_handle = CK_INVALID_HANDLE, priv_handle = CK_INVALID_HANDLE;
  const CK_RV rv = s.Check(s.f()->C_GenerateKeyPair(s.h(), &mech, pub, std::size(pub), priv,
                                                    std::size(priv), &pub_handle, &priv_handle));
  if (rv != CKR_OK) {
    return CkError(
        rv, "cannot make a " + std::to_string(bits) + "-bit RSA key in token " + Quoted(t.label));
  }
  return Finish(std::move(token), s, priv_handle, pub_handle, label, nullptr);
}

Result<Pkcs11Key> ImportSealedKey(std::shared_ptr<Pkcs11Token> token, std::string_view label,
                                  std::string_view sealed_pem, std::string_view password) {
  ASSIGN_OR_RETURN(PkeyPtr pkey, UnsealPrivateKey(sealed_pem, password));
  SecretBytes n, e, d, p, q, dp, dq, qinv;
  const std::pair<SecretBytes*, const char*> parts[] = {
      {&n, OSSL_PKEY_PARAM_RSA_N},          {&e, OSSL_PKEY_PARAM_RSA_E},
      {&d, OSSL_PKEY_PARAM_RSA_D},          {&p, OSSL_PKEY_PARAM_RSA_FACTOR1},
      {&q, OSSL_PKEY_PARAM_RSA_FACTOR2},    {&dp, OSSL_PKEY_PARAM_RSA_EXPONENT1},
      {&dq, OSSL_PKEY_PARAM_RSA_EXPONENT2}, {&qinv, OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
  };
  for (const auto& [out, name] : parts) {
    ASSIGN_OR_RETURN(out->bytes, BnParam(pkey.get(), name));
  }
  pkey.reset();
  ASSIGN_OR_RETURN(PublicKey expected, PublicKeyFromParts(n.bytes, e.bytes));

  Pkcs11Token::Impl& t = token->impl();
  ASSIGN_OR_RETURN(Session s, Acquire(t));
  RETURN_IF_ERROR(CheckNewLabel(s, t, label));
  ASSIGN_OR_RETURN(std::string id, NewKeyId());

  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
  CK_KEY_TYPE rsa = CKK_RSA;
  CK_ATTRIBUTE priv[] = {
      {CKA_CLASS, &priv_class, sizeof priv_class},
      {CKA_KEY_TYPE, &rsa, sizeof rsa},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_SIGN, &yes, sizeof yes},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_LABEL, Bytes(label), label.size()},
      {CKA_ID, Bytes(id), id.size()},
      {CKA_MODULUS, Bytes(n.bytes), n.bytes.size()},
      {CKA_PUBLIC_EXPONENT, Bytes(e.bytes), e.bytes.size()},
      {CKA_PRIVATE_EXPONENT, Bytes(d.bytes), d.bytes.size()},
      {CKA_PRIME_1, Bytes(p.bytes), p.bytes.size()},
      {CKA_PRIME_2, Bytes(q.bytes), q.bytes.size()},
      {CKA_EXPONENT_1, Bytes(dp.bytes), dp.bytes.size()},
      {CKA_EXPONENT_2, Bytes(dq.bytes), dq.bytes.size()},
      {CKA_COEFFICIENT, Bytes(qinv.bytes), qinv.bytes.size()},
  };
  CK_OBJECT_HANDLE priv_handle = CK_INVALID_HANDLE;
  CK_RV rv = s.Check(s.f()->C_CreateObject(s.h(), priv, std::size(priv), &priv_handle));
  if (rv != CKR_OK) return CkError(rv, "cannot import the key into token " + Quoted(t.label));

  CK_ATTRIBUTE pub[] = {
      {CKA_CLASS, &pub_class, sizeof pub_class},
      {CKA_KEY_TYPE, &rsa, sizeof rsa},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &no, sizeof no},
      {CKA_VERIFY, &yes, sizeof yes},
      {CKA_ENCRYPT, &yes, sizeof yes},
      {CKA_LABEL, Bytes(label), label.size()},
      {CKA_ID, Bytes(id), id.size()},
      {CKA_MODULUS, Bytes(n.bytes), n.bytes.size()},
      {CKA_PUBLIC_EXPONENT, Bytes(e.bytes), e.bytes.size()},
  };
  CK_OBJECT_HANDLE pub_handle = CK_INVALID_HANDLE;
  rv = s.Check(s.f()->C_CreateObject(s.h(), pub, std::size(pub), &pub_handle));
  if (rv != CKR_OK) {
    s.f()->C_DestroyObject(s.h(), priv_handle);  // all or nothing
    return CkError(rv, "cannot import the public key into token " + Quoted(t.label));
  }
  return Finish(std::move(token), s, priv_handle, pub_handle, label, &expected);
}

Result<std::string> ExportPrivateKey(Pkcs11Token& token, std::string_view uri) {
  ASSIGN_OR_RETURN(UriPtr parsed, ParseUri(uri));
  Pkcs11Token::Impl& t = token.impl();
  RETURN_IF_ERROR(CheckToken(parsed.get(), t, uri));
  ASSIGN_OR_RETURN(Session s, Acquire(t));
  ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, FindPrivateKey(s, parsed.get(), t, uri));

  // Ask the token rather than trust how we made the key.
  CK_BBOOL sensitive = CK_TRUE, extractable = CK_FALSE;
  CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sensitive, sizeof sensitive},
                          {CKA_EXTRACTABLE, &extractable, sizeof extractable}};
  CK_RV rv = s.Check(s.f()->C_GetAttributeValue(s.h(), handle, flags, std::size(flags)));
  if (rv != CKR_OK) return CkError(rv, "cannot read the attributes of " + std::string(uri));
  CK_ATTRIBUTE d{CKA_PRIVATE_EXPONENT, nullptr, 0};
  rv = s.Check(s.f()->C_GetAttributeValue(s.h(), handle, &d, 1));
  if (rv == CKR_ATTRIBUTE_SENSITIVE || sensitive || !extractable) {
    return Status(
        Code::kPermissionDenied,
        "the private key " + std::string(uri) +
            " lives in a PKCS#11 token and was made non-extractable: the token does "
            "not give out its private part (" +
            (rv == CKR_OK ? std::string("CKA_EXTRACTABLE is false") : Pkcs11ErrorName(rv)) +
            "). A key that can be exported would have to be created so on purpose.");
  }
  return Status(Code::kUnsupported,
                "the private key " + std::string(uri) +
                    " is marked extractable, but OpenRMS does not take keys out of a token; "
                    "use the token's own tools");
}

// --- A node's keys by URI.

namespace {

// The label a new key gets: the URI's object=, when it has no id= (a token
// chooses the ids of the keys it makes or takes in).
Result<std::string> NewObjectLabel(std::string_view uri, std::string_view token_label) {
  ASSIGN_OR_RETURN(UriPtr parsed, ParseUri(uri));
  const CK_ATTRIBUTE* label = p11_kit_uri_get_attribute(parsed.get(), CKA_LABEL);
  if (label == nullptr || p11_kit_uri_get_attribute(parsed.get(), CKA_ID) != nullptr) {
    return Status(Code::kInvalidArgument,
                  "no private key in token " + Quoted(token_label) + " matches " +
                      std::string(uri) +
                      "; to put a new key there, name it by object=LABEL alone (without id=)");
  }
  return std::string(static_cast<const char*>(label->pValue), label->ulValueLen);
}

}  // namespace

Pkcs11KeyStore::Pkcs11KeyStore(Pkcs11Config config) : config_(std::move(config)) {}

Pkcs11KeyStore::~Pkcs11KeyStore() { Wipe(config_.pin); }

Result<std::shared_ptr<Pkcs11Token>> Pkcs11KeyStore::TokenOf(std::string_view uri) {
  ASSIGN_OR_RETURN(UriPtr parsed, ParseUri(uri));
  const std::string label = TokenLabelOf(parsed.get());
  if (label.empty()) {
    return Status(Code::kInvalidArgument,
                  "the PKCS#11 URI " + std::string(uri) + " does not name its token (token=...)");
  }
  std::lock_guard lock(mu_);
  if (auto it = tokens_.find(label); it != tokens_.end()) return it->second;
  // A refused PIN is not tried again: a token may lock itself after a few
  // wrong PINs, and requests would keep trying.
  if (auto it = refused_.find(label); it != refused_.end()) return it->second;
  auto token = Pkcs11Token::Open(config_.module_path, label, config_.pin);
  if (!token.ok()) {
    if (token.status().code() == Code::kPermissionDenied) refused_.emplace(label, token.status());
    return token.status();
  }
  tokens_.emplace(label, *token);
  return *token;
}

Result<std::unique_ptr<PrivateKey>> Pkcs11KeyStore::Open(std::string_view uri) {
  ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Token> token, TokenOf(uri));
  return OpenPkcs11Key(std::move(token), uri);
}

Result<Pkcs11KeyStore::Placed> Pkcs11KeyStore::OpenOrGenerate(std::string_view uri, int bits) {
  ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Token> token, TokenOf(uri));
  auto found = OpenPkcs11Key(token, uri);
  if (found.ok()) return Placed{std::move(found).value(), false};
  if (found.status().code() != Code::kNotFound) return found.status();
  ASSIGN_OR_RETURN(std::string label, NewObjectLabel(uri, token->label()));
  ASSIGN_OR_RETURN(Pkcs11Key made, GenerateRsaKey(token, label, bits));
  return Placed{std::move(made.key), true};
}

Result<Pkcs11KeyStore::Placed> Pkcs11KeyStore::OpenOrImport(std::string_view uri,
                                                            std::string_view sealed_pem,
                                                            std::string_view password) {
  ASSIGN_OR_RETURN(std::unique_ptr<PrivateKey> software, UnsealKey(sealed_pem, password));
  ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Token> token, TokenOf(uri));
  auto found = OpenPkcs11Key(token, uri);
  if (found.ok()) {
    if (!((*found)->public_key() == software->public_key())) {
      return Status(Code::kAlreadyUsed,
                    "token " + Quoted(token->label()) + " already holds a key named by " +
                        std::string(uri) + ", and it is another key (" +
                        (*found)->public_key().Fingerprint().substr(0, 16) + "..., not " +
                        software->public_key().Fingerprint().substr(0, 16) +
                        "...): nothing was changed; choose another object= label");
    }
    return Placed{std::move(found).value(), false};
  }
  if (found.status().code() != Code::kNotFound) return found.status();
  software.reset();
  ASSIGN_OR_RETURN(std::string label, NewObjectLabel(uri, token->label()));
  ASSIGN_OR_RETURN(Pkcs11Key made, ImportSealedKey(token, label, sealed_pem, password));
  return Placed{std::move(made.key), true};
}

Result<std::string> Pkcs11KeyStore::Export(std::string_view uri) {
  ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Token> token, TokenOf(uri));
  return ExportPrivateKey(*token, uri);
}

}  // namespace openrms::crypto
