#include "exporter/openssl_library.h"

#include <dlfcn.h>
#include <openssl/opensslv.h>

#include <stdexcept>
#include <string>

namespace memledger {

namespace {

#define MEMLEDGER_STRINGIFY(x) #x
#define MEMLEDGER_SONAME(version) "libssl.so." MEMLEDGER_STRINGIFY(version)
// "libssl.so.3": the library whose headers typed the table (the soname's version is
// OPENSSL_SHLIB_VERSION, openssl/opensslv.h).
constexpr const char* kLibsslSoname = MEMLEDGER_SONAME(OPENSSL_SHLIB_VERSION);
#undef MEMLEDGER_SONAME
#undef MEMLEDGER_STRINGIFY

OpenSsl load() {
  void* library = ::dlopen(kLibsslSoname, RTLD_NOW | RTLD_LOCAL);
  if (!library) throw std::runtime_error(std::string("cannot load OpenSSL: ") + ::dlerror());
  OpenSsl table;
#define MEMLEDGER_OPENSSL_BIND(name)                                                \
  table.name = reinterpret_cast<decltype(table.name)>(::dlsym(library, #name));    \
  if (!table.name) {                                                                \
    throw std::runtime_error(std::string("cannot load OpenSSL: no " #name " in ") + \
                             kLibsslSoname);                                        \
  }
  MEMLEDGER_OPENSSL_FUNCTIONS(MEMLEDGER_OPENSSL_BIND)
#undef MEMLEDGER_OPENSSL_BIND
  return table;
}

}  // namespace

const OpenSsl& openssl() {
  static const OpenSsl table = load();
  return table;
}

}  // namespace memledger
