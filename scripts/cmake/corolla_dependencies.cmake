# The packages Corolla's libraries link, found the same way by Corolla's own build and
# by corollaConfig.cmake for an application that uses the installed package.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(dnnl CONFIG REQUIRED)
find_package(cereal CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)

# CAF 0.17 (Debian's libcaf-dev) ships neither a CMake config nor pkg-config: find its
# headers and libraries and wrap them as imported targets (unless the application
# already has them).
if(NOT TARGET CAF::core)
  find_path(CAF_INCLUDE_DIR caf/actor_system.hpp)
  find_library(CAF_CORE_LIBRARY caf_core)
  find_library(CAF_IO_LIBRARY caf_io)
  find_library(CAF_OPENSSL_LIBRARY caf_openssl)
  if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY OR NOT CAF_OPENSSL_LIBRARY)
    message(FATAL_ERROR "CAF 0.17 not found: install Debian's libcaf-dev (Corolla's scripts/install-deps.sh)")
  endif()
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
                                             INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
                                             INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
                                           INTERFACE_LINK_LIBRARIES CAF::core)
  add_library(CAF::openssl UNKNOWN IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
                                                INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL;OpenSSL::Crypto")
endif()
