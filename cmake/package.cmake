# SPDX-License-Identifier: MIT
# synack as a package (issue 15): version header, shared and static libraries with an export
# list, install rules, synackConfig.cmake, pkg-config files, man pages, bash completion, Debian
# packages (CPack) and the API reference. Included from CMakeLists.txt after every target exists;
# it adds targets and install rules of its own, and makes the core and link layers PIC.
#
#   libsynack        the sans-I/O core (src/wire, src/tcp, src/stack)    -> synack::synack
#   libsynack-link   TUN, event loop, simulated network, pcap            -> synack::link
#                    (built from the capture, os, observe and sim layers; exports only what
#                    include/synack/{tun_device,event_loop,sim_network,pcap}.hpp declare)
#
# Both are built from the objects of the static layer libraries CMakeLists.txt already makes
# (nothing is compiled twice), as shared libraries (libsynack.so.MAJOR.MINOR) whose dynamic symbol
# table is cut down to the public API by a version script (cmake/synack.map, cmake/synack-link.map),
# and as static archives (libsynack.a, libsynack-link.a; synack::synack_static,
# synack::link_static).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SYNACK_GENERATED ${CMAKE_BINARY_DIR}/generated)

# --- version: one place (project(VERSION)); the commit comes at build time --------------------
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.hpp.in
               ${SYNACK_GENERATED}/include/synack/version.hpp @ONLY)
set(SYNACK_GIT_COMMIT "" CACHE STRING
    "Commit to print in synack --version when building outside git (empty: ask git)")
add_custom_target(synack_build_info
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR}
          -DOUT=${SYNACK_GENERATED}/build_info/synack_build_info.hpp
          -DVERSION=${PROJECT_VERSION} -DGIT_COMMIT=${SYNACK_GIT_COMMIT}
          -P ${CMAKE_CURRENT_LIST_DIR}/build-info.cmake
  BYPRODUCTS ${SYNACK_GENERATED}/build_info/synack_build_info.hpp
  COMMENT "synack: git commit for --version")
add_dependencies(synack synack_build_info)
target_include_directories(synack PRIVATE ${SYNACK_GENERATED}/build_info)

# --- headers to install ---------------------------------------------------------------------
# include/synack/ is the whole public API and self-contained (tests/CMakeLists.txt compiles each
# header alone): the core's (Stack is a pimpl) and the link library's (tun_device.hpp,
# event_loop.hpp, system_random.hpp, sim_network.hpp, pcap.hpp), which name only public types.
# Nothing of src/ is installed.

# --- libraries ------------------------------------------------------------------------------
set(SYNACK_LINK_LAYERS synack_capture synack_os synack_observe synack_sim)
set_target_properties(synack_core ${SYNACK_LINK_LAYERS} PROPERTIES POSITION_INDEPENDENT_CODE ON)
set(SYNACK_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})  # 0.x: minors break ABI
set(SYNACK_LINK_OBJECTS)
foreach(layer ${SYNACK_LINK_LAYERS})
  list(APPEND SYNACK_LINK_OBJECTS $<TARGET_OBJECTS:${layer}>)
endforeach()

function(synack_package_library target output export_name kind map)
  add_library(${target} ${kind} ${ARGN})
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ${output} EXPORT_NAME ${export_name})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${SYNACK_GENERATED}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  if(kind STREQUAL "SHARED")
    set_target_properties(${target} PROPERTIES VERSION ${PROJECT_VERSION}
                          SOVERSION ${SYNACK_SOVERSION} LINK_DEPENDS ${map})
    target_link_options(${target} PRIVATE -Wl,--version-script=${map} -Wl,--no-undefined)
  endif()
endfunction()

set(SYNACK_CORE_MAP ${CMAKE_CURRENT_LIST_DIR}/synack.map)
set(SYNACK_LINK_MAP ${CMAKE_CURRENT_LIST_DIR}/synack-link.map)
synack_package_library(synack_shared synack synack SHARED ${SYNACK_CORE_MAP}
                       $<TARGET_OBJECTS:synack_core>)
synack_package_library(synack_static synack synack_static STATIC ${SYNACK_CORE_MAP}
                       $<TARGET_OBJECTS:synack_core>)
synack_package_library(synack_link_shared synack-link link SHARED ${SYNACK_LINK_MAP}
                       ${SYNACK_LINK_OBJECTS})
synack_package_library(synack_link_static synack-link link_static STATIC ${SYNACK_LINK_MAP}
                       ${SYNACK_LINK_OBJECTS})
# The link layers also use two internals of the core that libsynack.so keeps local (the ladder
# parses packets with wire::parse_tcp_packet and prints flags with wire::flags_to_string): after
# libsynack.so on the link line, libsynack_core.a supplies just those objects, as a private copy
# that cmake/synack-link.map keeps local in turn.
target_link_libraries(synack_link_shared PUBLIC synack_shared PRIVATE pcap synack_core)
target_link_libraries(synack_link_static PUBLIC synack_static PRIVATE pcap)

# --- install --------------------------------------------------------------------------------
# Components: Runtime (the command, the shared libraries, man pages, completion: the `synack`
# package) and Development (headers, static libraries, the .so links, CMake and pkg-config
# files: `libsynack-dev`).
install(TARGETS synack RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
# synack as `slirp4netns` for podman's network_cmd_path and rootlesskit's --slirp4netns-binary
# (main.cpp dispatches on argv[0]; README "Use with podman / rootlesskit").
install(CODE "
  set(dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBEXECDIR}/synack\")
  file(MAKE_DIRECTORY \"\${dir}\")
  file(CREATE_LINK ../../${CMAKE_INSTALL_BINDIR}/synack \"\${dir}/slirp4netns\" SYMBOLIC)"
  COMPONENT Runtime)
install(TARGETS synack_shared synack_link_shared EXPORT synackTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime
                NAMELINK_COMPONENT Development)
install(TARGETS synack_static synack_link_static EXPORT synackStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/synack ${SYNACK_GENERATED}/include/synack
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development)

set(SYNACK_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/synack)
install(EXPORT synackTargets NAMESPACE synack:: DESTINATION ${SYNACK_CMAKEDIR}
        FILE synackTargets.cmake COMPONENT Development)
install(EXPORT synackStaticTargets NAMESPACE synack:: DESTINATION ${SYNACK_CMAKEDIR}
        FILE synackStaticTargets.cmake COMPONENT Development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/synackConfig.cmake.in
  ${CMAKE_BINARY_DIR}/synackConfig.cmake INSTALL_DESTINATION ${SYNACK_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/synackConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)  # 0.x: a new minor may break the API
install(FILES ${CMAKE_BINARY_DIR}/synackConfig.cmake ${CMAKE_BINARY_DIR}/synackConfigVersion.cmake
        DESTINATION ${SYNACK_CMAKEDIR} COMPONENT Development)

# pkg-config: prefix-relative (pcfiledir), so a tree installed anywhere, or moved, still works.
file(RELATIVE_PATH SYNACK_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" SYNACK_PC_TO_PREFIX "${SYNACK_PC_TO_PREFIX}")
foreach(pc synack synack-link)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${CMAKE_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT Development)
endforeach()

install(FILES ${CMAKE_SOURCE_DIR}/packaging/bash-completion/synack
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT Runtime)

# --- man pages: help2man over `synack --help` and each subcommand's --help ---------------------
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(SYNACK_MAN_DIR ${CMAKE_BINARY_DIR}/man)
  add_custom_command(OUTPUT ${SYNACK_MAN_DIR}/stamp
    COMMAND ${CMAKE_SOURCE_DIR}/packaging/man/make-man.sh $<TARGET_FILE:synack>
            ${SYNACK_MAN_DIR} ${CMAKE_SOURCE_DIR}/packaging/man
    DEPENDS synack ${CMAKE_SOURCE_DIR}/packaging/man/make-man.sh
            ${CMAKE_SOURCE_DIR}/packaging/man/common.h2m
    COMMENT "synack: man pages (help2man)")
  add_custom_target(synack_man ALL DEPENDS ${SYNACK_MAN_DIR}/stamp)
  install(DIRECTORY ${SYNACK_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          COMPONENT Runtime FILES_MATCHING PATTERN "*.1.gz")
else()
  message(STATUS "help2man not found: no man pages (apt-get install help2man)")
endif()

# Everything the install rules above take, and nothing else: `make package-test` builds this
# instead of the whole Release tree (the test suite is built and run under ASan by `make test`).
add_custom_target(package-parts DEPENDS synack synack_shared synack_link_shared synack_static
                  synack_link_static)
if(HELP2MAN)
  add_dependencies(package-parts synack_man)
endif()

# --- documentation files: Debian wants copyright and changelog in /usr/share/doc/<package> --
foreach(component_package Runtime:synack Development:libsynack-dev)
  string(REPLACE ":" ";" pair ${component_package})
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${CMAKE_SOURCE_DIR}/packaging/debian/copyright
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
endforeach()

# --- API reference: make api-docs ------------------------------------------------------------
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  add_custom_target(api-docs
    COMMAND ${CMAKE_COMMAND} -E env SYNACK_VERSION=${PROJECT_VERSION}
            SYNACK_DOCS_OUT=${CMAKE_BINARY_DIR}/api-docs ${DOXYGEN_EXECUTABLE}
            ${CMAKE_SOURCE_DIR}/docs/Doxyfile
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    COMMENT "synack: API reference in ${CMAKE_BINARY_DIR}/api-docs/html/index.html")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/deb.cmake)

# --- tests (label package): the installed tree used from outside, and the Debian packages ----
# Not under the sanitizers: programs built outside would load an instrumented libsynack.so.
if(SYNACK_TESTS AND NOT SYNACK_SANITIZE)
  add_test(NAME package_install
           COMMAND ${CMAKE_SOURCE_DIR}/packaging/test-install.sh ${CMAKE_BINARY_DIR}
                   ${CMAKE_SOURCE_DIR})
  add_test(NAME package_deb COMMAND ${CMAKE_SOURCE_DIR}/packaging/test-deb.sh ${CMAKE_BINARY_DIR})
  # The shared libraries' dynamic symbol tables hold the public API only (cmake/*.map).
  add_test(NAME package_exports
           COMMAND ${CMAKE_SOURCE_DIR}/packaging/test-exports.sh $<TARGET_FILE:synack_shared>
                   $<TARGET_FILE:synack_link_shared>)
  set_tests_properties(package_exports PROPERTIES LABELS package SKIP_RETURN_CODE 77)
  # package_deb runs cpack, which installs into build/_CPack_Packages: not beside package_install.
  set_tests_properties(package_install package_deb PROPERTIES LABELS package TIMEOUT 300
                       RESOURCE_LOCK synack_package SKIP_RETURN_CODE 77)
endif()
