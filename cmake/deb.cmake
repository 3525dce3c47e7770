# SPDX-License-Identifier: MIT
# Debian packages with CPack (make deb): one per install component.
#   synack_<version>_<arch>.deb         Runtime: the command, libsynack*.so.*, man pages,
#                                       bash completion
#   libsynack-dev_<version>_<arch>.deb  Development: headers, static libraries, the .so links,
#                                       CMake and pkg-config files
# Depends of `synack` come from dpkg-shlibdeps; libsynack-dev depends on the exact synack and on
# libpcap-dev (libsynack-link.a and the .pc's Requires.private need it).
find_program(DPKG dpkg)
if(NOT DPKG)
  return()
endif()
execute_process(COMMAND ${DPKG} --print-architecture OUTPUT_VARIABLE SYNACK_DEB_ARCH
                OUTPUT_STRIP_TRAILING_WHITESPACE)

# Who the packages name as maintainer: a placeholder address (RFC 2606) until the project has one.
set(SYNACK_DEB_MAINTAINER "the synack authors <synack@example.org>" CACHE STRING
    "Maintainer field of the Debian packages")
# /usr/share/doc/<package>/changelog.gz (Debian policy 12.7; a native package: its version has no
# Debian revision), compressed with -9n so that the package is reproducible.
string(TIMESTAMP SYNACK_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(component_package Runtime:synack Development:libsynack-dev)
  string(REPLACE ":" ";" pair ${component_package})
  list(GET pair 0 component)
  list(GET pair 1 SYNACK_DEB_PACKAGE)
  set(dir ${CMAKE_BINARY_DIR}/debian/${SYNACK_DEB_PACKAGE})
  configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/changelog.in ${dir}/changelog @ONLY)
  add_custom_command(OUTPUT ${dir}/changelog.gz
    COMMAND gzip -9nkf ${dir}/changelog DEPENDS ${dir}/changelog)
  list(APPEND SYNACK_DEB_CHANGELOGS ${dir}/changelog.gz)
  install(FILES ${dir}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${SYNACK_DEB_PACKAGE} COMPONENT ${component})
endforeach()
add_custom_target(synack_deb_changelogs ALL DEPENDS ${SYNACK_DEB_CHANGELOGS})
# The install rules above take these files: `make package-test` builds package-parts only.
add_dependencies(package-parts synack_deb_changelogs)

set(CPACK_PACKAGE_NAME synack)
set(CPACK_PACKAGE_VENDOR "the synack authors")
set(CPACK_PACKAGE_CONTACT "${SYNACK_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL Runtime Development)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/deb)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${SYNACK_DEB_ARCH})

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME synack)
set(CPACK_DEBIAN_RUNTIME_FILE_NAME synack_${PROJECT_VERSION}_${SYNACK_DEB_ARCH}.deb)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# shlibs for libsynack.so.0.MINOR and libsynack-link.so.0.MINOR (exact version: 0.x has no stable ABI),
# and the ldconfig trigger Debian wants beside CPack's postinst/postrm ldconfig calls.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/debian/triggers)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
"user-space TCP/IP stack and tools to watch TCP at work
synack is a user-space TCP/IP stack (RFC 9293) with a sans-I/O core. The
synack command shows TCP at work on a simulated network (demo, sim, soak),
serves and connects over a TUN device against the Linux kernel, gives a
network namespace user-mode networking (synack run -- CMD), decodes captures
and reports connections (ss, stats).
.
This package holds the command, its man pages and the shared libraries
libsynack (the core) and libsynack-link (TUN, event loop, simulator, pcap).")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libsynack-dev)
set(CPACK_DEBIAN_DEVELOPMENT_FILE_NAME libsynack-dev_${PROJECT_VERSION}_${SYNACK_DEB_ARCH}.deb)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "synack (= ${PROJECT_VERSION}), libpcap-dev")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
"user-space TCP/IP stack - development files
synack is a user-space TCP/IP stack (RFC 9293) with a sans-I/O core: packets
and time are arguments, so it runs under any event loop.
.
This package holds the headers, the static libraries, and the CMake
(find_package(synack): synack::synack, synack::link) and pkg-config
(synack, synack-link) files.")
include(CPack)
