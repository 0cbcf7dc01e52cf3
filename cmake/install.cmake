# Install rules and an exported package config: find_package(moerouter) then link moerouter::moerouter.
include(CMakePackageConfigHelpers)
set(MOEROUTER_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/moerouter)

get_property(MOEROUTER_EXPORTED_TARGETS GLOBAL PROPERTY MOEROUTER_EXPORTED_TARGETS)
install(TARGETS ${MOEROUTER_EXPORTED_TARGETS}
        EXPORT moerouterTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY core/include/moerouter DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET moerouter_reference)
  install(DIRECTORY reference/include/moerouter DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
install(EXPORT moerouterTargets NAMESPACE moerouter:: DESTINATION ${MOEROUTER_CMAKE_DIR})

configure_package_config_file(cmake/moerouterConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/moerouterConfig.cmake INSTALL_DESTINATION ${MOEROUTER_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/moerouterConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/moerouterConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/moerouterConfigVersion.cmake
        DESTINATION ${MOEROUTER_CMAKE_DIR})
