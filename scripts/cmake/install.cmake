# `cmake --install`: the programs, the libraries with their headers, and the CMake
# package an application finds them with (find_package(corolla); example in
# apps/embedding). Library targets are exported as corolla::<name>.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(COROLLA_LIBRARIES half kernels format model messages caf_types policy guard actors)
foreach(name IN LISTS COROLLA_LIBRARIES)
  set_target_properties(corolla_${name} PROPERTIES EXPORT_NAME ${name})
  add_library(corolla::${name} ALIAS corolla_${name})
  list(APPEND COROLLA_LIBRARY_TARGETS corolla_${name})
endforeach()

install(TARGETS corolla actor-node actor-chat)
install(TARGETS ${COROLLA_LIBRARY_TARGETS} EXPORT corollaTargets
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/corolla)
install(DIRECTORY actors kernels messages model
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/corolla FILES_MATCHING PATTERN "*.hpp")
install(DIRECTORY config/ DESTINATION ${CMAKE_INSTALL_DATADIR}/corolla/config)

set(COROLLA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/corolla)
install(EXPORT corollaTargets NAMESPACE corolla:: DESTINATION ${COROLLA_CMAKE_DIR})
configure_package_config_file(scripts/cmake/corollaConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/corollaConfig.cmake
                              INSTALL_DESTINATION ${COROLLA_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/corollaConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/corollaConfig.cmake
              ${PROJECT_BINARY_DIR}/corollaConfigVersion.cmake
              scripts/cmake/corolla_dependencies.cmake
        DESTINATION ${COROLLA_CMAKE_DIR})
