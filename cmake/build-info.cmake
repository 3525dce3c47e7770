# SPDX-License-Identifier: MIT
# Run at build time (cmake -P): writes the git commit the build comes from into a header, rewriting
# it only when it changed (so nothing recompiles when it did not). Outside a git checkout, or
# without git, the commit is "unknown" unless -DGIT_COMMIT=... (a source tarball's builder) says.
#   -DSOURCE_DIR=... -DOUT=.../synack_build_info.hpp -DVERSION=x.y.z [-DGIT_COMMIT=...]
if(NOT GIT_COMMIT)
  set(GIT_COMMIT "unknown")
  find_program(GIT_EXECUTABLE git)
  if(GIT_EXECUTABLE)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} rev-parse --short=12 HEAD
                    OUTPUT_VARIABLE commit ERROR_QUIET RESULT_VARIABLE rc
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(rc EQUAL 0 AND commit)
      set(GIT_COMMIT "${commit}")
      execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} status --porcelain
                              --untracked-files=no
                      OUTPUT_VARIABLE dirty ERROR_QUIET RESULT_VARIABLE rc)
      if(rc EQUAL 0 AND NOT dirty STREQUAL "")
        string(APPEND GIT_COMMIT "-dirty")
      endif()
    endif()
  endif()
endif()
set(content "// Generated at build time by cmake/build-info.cmake: do not edit.
#pragma once
#define SYNACK_BUILD_VERSION \"${VERSION}\"
#define SYNACK_BUILD_COMMIT \"${GIT_COMMIT}\"
")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
