#include "node/config.h"

#include <toml++/toml.h>

#include <functional>
#include <limits>
#include <map>

namespace openrms::node {

namespace {

// One key of the file: how to read it into the configuration.
using Reader = std::function<Status(const toml::node&, const std::string& where, NodeConfig&)>;

Status WrongType(const std::string& where, std::string_view expected) {
  return Status(Code::kInvalidArgument, where + " must be " + std::string(expected));
}

Reader Text(std::string NodeConfig::*field) {
  return [field](const toml::node& n, const std::string& where, NodeConfig& c) -> Status {
    // The type first: toml++'s value<T>() converts between number types
    // (a huge float to int64 is undefined behaviour).
    if (!n.is_string()) return WrongType(where, "a string");
    const std::string& v = n.as_string()->get();
    if (v.empty()) return WrongType(where, "a non-empty string (leave the key out instead)");
    c.*field = v;
    return Status::Ok();
  };
}

Reader Integer(int NodeConfig::*field, int min, int max) {
  return [=](const toml::node& n, const std::string& where, NodeConfig& c) -> Status {
    if (!n.is_integer()) return WrongType(where, "an integer");
    const int64_t v = n.as_integer()->get();
    if (v < min || v > max) {
      return WrongType(where, "between " + std::to_string(min) + " and " + std::to_string(max));
    }
    c.*field = static_cast<int>(v);
    return Status::Ok();
  };
}

Reader Directory(std::string accounts::DirectoryConfig::*field) {
  return [field](const toml::node& n, const std::string& where, NodeConfig& c) -> Status {
    if (!n.is_string() || n.as_string()->get().empty()) {
      return WrongType(where, "a non-empty string");
    }
    if (!c.directory) c.directory.emplace();
    (*c.directory).*field = n.as_string()->get();
    return Status::Ok();
  };
}

Reader Addresses(std::vector<std::string> NodeConfig::*field, std::string_view expected) {
  return [=](const toml::node& n, const std::string& where, NodeConfig& c) -> Status {
    const toml::array* list = n.as_array();
    if (list == nullptr) return WrongType(where, expected);
    (c.*field).clear();
    for (const toml::node& item : *list) {
      if (!item.is_string() || item.as_string()->get().empty()) return WrongType(where, expected);
      (c.*field).push_back(item.as_string()->get());
    }
    return Status::Ok();
  };
}

Status ReadStoreUrl(const toml::node& n, const std::string& where, NodeConfig& c) {
  RETURN_IF_ERROR(Text(&NodeConfig::store_url)(n, where, c));
  return CheckStoreUrl(c.store_url, where);
}

Status SecretKey(const std::string& where, std::string_view file_key, bool env) {
  return Status(Code::kInvalidArgument,
                where +
                    " would put a secret in the configuration file: name a file that holds "
                    "it with " +
                    std::string(file_key) + (env ? " (or use the environment)" : ""));
}

// `env`: whether the secret may also come from the environment.
Reader Secret(std::string file_key, bool env = true) {
  return [file_key, env](const toml::node&, const std::string& where, NodeConfig&) -> Status {
    return SecretKey(where, file_key, env);
  };
}

using Table = std::map<std::string, Reader, std::less<>>;

const std::map<std::string, Table, std::less<>>& Schema() {
  static const auto* schema = new std::map<std::string, Table, std::less<>>{
      {"node",
       {{"name", Text(&NodeConfig::name)},
        {"dir", Text(&NodeConfig::dir)},
        {"listen", Text(&NodeConfig::listen)},
        {"threads", Integer(&NodeConfig::threads, 0, 256)},
        {"monitor_interval_seconds",
         Integer(&NodeConfig::monitor_interval_seconds, 0, 7 * 24 * 3600)},
        {"trusted_proxies", Addresses(&NodeConfig::trusted_proxies,
                                      "an array of addresses or networks (\"10.0.0.0/24\")")},
        {"max_connections_per_address",
         Integer(&NodeConfig::max_connections_per_address, 0, 1000000)}}},
      {"store", {{"url", ReadStoreUrl}, {"password", Secret("PGPASSFILE")}}},
      {"keys",
       {{"password_file", Text(&NodeConfig::key_password_file)},
        {"pkcs11_module", Text(&NodeConfig::pkcs11_module)},
        {"pkcs11_pin_file", Text(&NodeConfig::pkcs11_pin_file)},
        {"password", Secret("keys.password_file")},
        {"pkcs11_pin", Secret("keys.pkcs11_pin_file")}}},
      {"admin", {{"group", Text(&NodeConfig::admin_group)}}},
      {"audit",
       {{"keep_days", Integer(&NodeConfig::audit_keep_days, 0, 100 * 366)},
        {"syslog", Text(&NodeConfig::audit_syslog)}}},
      {"metrics",
       {{"token_file", Text(&NodeConfig::metrics_token_file)},
        {"allow", Addresses(&NodeConfig::metrics_allow, "an array of addresses")},
        {"token", Secret("metrics.token_file")}}},
      {"directory",
       {{"uri", Directory(&accounts::DirectoryConfig::uri)},
        {"user_dn", Directory(&accounts::DirectoryConfig::user_dn)},
        {"group_base", Directory(&accounts::DirectoryConfig::group_base)},
        {"group_filter", Directory(&accounts::DirectoryConfig::group_filter)},
        {"group_attribute", Directory(&accounts::DirectoryConfig::group_attribute)},
        {"ca_file", Directory(&accounts::DirectoryConfig::ca_file)},
        {"bind_dn", Directory(&accounts::DirectoryConfig::bind_dn)},
        {"bind_password_file", Directory(&accounts::DirectoryConfig::bind_password_file)},
        {"bind_password", Secret("directory.bind_password_file", /*env=*/false)},
        {"timeout_seconds",
         [](const toml::node& n, const std::string& where, NodeConfig& c) -> Status {
           if (!n.is_integer() || n.as_integer()->get() < 1 || n.as_integer()->get() > 300) {
             return WrongType(where, "an integer between 1 and 300");
           }
           if (!c.directory) c.directory.emplace();
           c.directory->timeout_seconds = static_cast<int>(n.as_integer()->get());
           return Status::Ok();
         }}}},
  };
  return *schema;
}

std::string KnownKeys(const Table& table) {
  std::string out;
  for (const auto& [key, reader] : table) out += (out.empty() ? "" : ", ") + key;
  return out;
}

std::string KnownTables() {
  std::string out;
  for (const auto& [name, table] : Schema()) out += (out.empty() ? "[" : ", [") + name + "]";
  return out + ", [[oidc]]";
}

}  // namespace

namespace {

// [[oidc]]: an array of tables, one per trusted issuer.
Status ReadOidc(const toml::node& node, std::string_view source, NodeConfig& config) {
  const toml::array* issuers = node.as_array();
  if (issuers == nullptr || !issuers->is_array_of_tables()) {
    return Status(Code::kInvalidArgument,
                  std::string(source) + ": oidc must be an array of tables ([[oidc]])");
  }
  for (const toml::node& entry : *issuers) {
    accounts::OidcIssuerConfig c;
    const std::string at =
        std::string(source) + ": oidc[" + std::to_string(config.oidc.size()) + "]";
    for (const auto& [key, value] : *entry.as_table()) {
      const std::string name(key.str());
      const std::string where = at + "." + name;
      std::string* text = name == "issuer"               ? &c.issuer
                          : name == "audience"           ? &c.audience
                          : name == "user_claim"         ? &c.user_claim
                          : name == "groups_claim"       ? &c.groups_claim
                          : name == "ca_file"            ? &c.ca_file
                          : name == "name"               ? &c.display_name
                          : name == "client_id"          ? &c.client_id
                          : name == "client_secret_file" ? &c.client_secret_file
                                                         : nullptr;
      if (text != nullptr) {
        if (!value.is_string() || value.as_string()->get().empty()) {
          return WrongType(where, "a non-empty string");
        }
        *text = value.as_string()->get();
      } else if (name == "group_map") {
        const toml::table* map = value.as_table();
        if (map == nullptr) return WrongType(where, "a table of group names");
        for (const auto& [from, to] : *map) {
          if (!to.is_string()) return WrongType(where + "." + std::string(from.str()), "a string");
          c.group_map.emplace_back(std::string(from.str()), to.as_string()->get());
        }
      } else if (name == "client_secret") {
        return Status(Code::kInvalidArgument,
                      where +
                          " holds a secret: keep it out of the configuration; put it in a "
                          "file readable by the node alone and name it in client_secret_file");
      } else {
        return Status(Code::kInvalidArgument,
                      where +
                          " is not a known key; [[oidc]] takes audience, ca_file, client_id, "
                          "client_secret_file, group_map, groups_claim, issuer, name, user_claim");
      }
    }
    if (c.issuer.rfind("https://", 0) != 0 || c.audience.empty()) {
      return Status(Code::kInvalidArgument, at + " needs an https:// issuer and an audience");
    }
    if (c.client_id.empty() != c.client_secret_file.empty()) {
      return Status(Code::kInvalidArgument,
                    at + " needs client_id and client_secret_file together (they let "
                         "administrators sign on through the issuer)");
    }
    config.oidc.push_back(std::move(c));
  }
  return Status::Ok();
}

}  // namespace

Status CheckStoreUrl(std::string_view url, std::string_view where) {
  if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0 &&
      url.rfind("sqlite:", 0) != 0) {
    return WrongType(std::string(where), "a postgresql:// URL or sqlite:PATH");
  }
  // user:password@host: a colon between "://" and "@".
  bool password = url.find("password=") != std::string_view::npos;
  if (const size_t scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    const size_t at = url.find('@', scheme_end + 3);
    const size_t colon = url.find(':', scheme_end + 3);
    password = password || (at != std::string_view::npos && colon < at);
  }
  if (password) {
    return Status(Code::kInvalidArgument,
                  std::string(where) +
                      " holds a password: keep secrets out of the configuration and the command "
                      "line; put it in a pgpass file (PGPASSFILE) or the environment "
                      "(PGPASSWORD)");
  }
  return Status::Ok();
}

Result<NodeConfig> ParseNodeConfig(std::string_view text, std::string_view source) {
  if (text.size() > kMaxConfigBytes) {
    return Status(Code::kTooLarge, std::string(source) + " is larger than " +
                                       std::to_string(kMaxConfigBytes / 1024) +
                                       " KiB: is it the right file?");
  }
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status(Code::kMalformed, std::string(source) + ":" + std::to_string(where.line) + ":" +
                                        std::to_string(where.column) +
                                        ": not valid TOML: " + std::string(e.description()));
  }
  NodeConfig config;
  for (const auto& [table_key, table_node] : root) {
    const std::string table_name(table_key.str());
    if (table_name == "oidc") {
      RETURN_IF_ERROR(ReadOidc(table_node, source, config));
      continue;
    }
    const auto schema = Schema().find(table_name);
    if (schema == Schema().end()) {
      return Status(Code::kInvalidArgument, std::string(source) + ": unknown table [" + table_name +
                                                "]; the tables are " + KnownTables());
    }
    const toml::table* table = table_node.as_table();
    if (table == nullptr) {
      return Status(Code::kInvalidArgument, std::string(source) + ": " + table_name +
                                                " must be a table ([" + table_name + "])");
    }
    for (const auto& [key, value] : *table) {
      const std::string name(key.str());
      const std::string where = std::string(source) + ": " + table_name + "." + name;
      const auto reader = schema->second.find(name);
      if (reader == schema->second.end()) {
        return Status(Code::kInvalidArgument, where + " is not a known key; [" + table_name +
                                                  "] takes " + KnownKeys(schema->second));
      }
      RETURN_IF_ERROR(reader->second(value, where, config));
    }
  }
  if (config.directory && (config.directory->uri.empty() || config.directory->user_dn.empty())) {
    return Status(Code::kInvalidArgument,
                  std::string(source) + ": [directory] needs at least uri and user_dn");
  }
  if (config.directory &&
      config.directory->bind_dn.empty() != config.directory->bind_password_file.empty()) {
    return Status(Code::kInvalidArgument,
                  std::string(source) +
                      ": [directory] bind_dn and bind_password_file go together: give both or "
                      "neither");
  }
  return config;
}

Result<NodeConfig> LoadNodeConfig(FileSystem& fs, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path, kMaxConfigBytes));
  return ParseNodeConfig(text, path);
}

}  // namespace openrms::node
