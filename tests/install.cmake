# find_package(moerouter) works from an installed prefix: stage an install, then configure, build
# and run a consumer project against it.
if(MOEROUTER_INSTALL)
  set(_stage ${CMAKE_BINARY_DIR}/install-stage)
  set(_consumer ${CMAKE_BINARY_DIR}/install-consumer)
  add_test(NAME install.stage
           COMMAND ${CMAKE_COMMAND} --install ${CMAKE_BINARY_DIR} --prefix ${_stage})
  add_test(NAME install.consumer_configure
           COMMAND ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_SOURCE_DIR}/install_consumer -B ${_consumer}
                   -G ${CMAKE_GENERATOR} -DCMAKE_PREFIX_PATH=${_stage} -DCMAKE_BUILD_TYPE=Release)
  add_test(NAME install.consumer_build COMMAND ${CMAKE_COMMAND} --build ${_consumer})
  add_test(NAME install.consumer_run COMMAND ${_consumer}/consumer)
  set_tests_properties(install.stage PROPERTIES FIXTURES_SETUP moerouter_stage LABELS install)
  set_tests_properties(install.consumer_configure PROPERTIES FIXTURES_REQUIRED moerouter_stage
                       FIXTURES_SETUP moerouter_consumer_cfg LABELS install)
  set_tests_properties(install.consumer_build PROPERTIES FIXTURES_REQUIRED moerouter_consumer_cfg
                       FIXTURES_SETUP moerouter_consumer_bin LABELS install)
  set_tests_properties(install.consumer_run PROPERTIES FIXTURES_REQUIRED moerouter_consumer_bin
                       LABELS install PASS_REGULAR_EXPRESSION "ids [0-7] [0-7]")
endif()
