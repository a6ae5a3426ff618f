# Writes herd_version.hpp (the version and the git commit of the tree being built) into OUT,
# rewriting it only when it changes, so that a build after a new commit says which one it is.
# Run at every build: cmake -DSOURCE=... -DOUT=... -DVERSION=... -P version.cmake
execute_process(COMMAND git -C "${SOURCE}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
else()
  execute_process(COMMAND git -C "${SOURCE}" status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT changes STREQUAL "")
    set(commit "${commit}-modified")
  endif()
endif()
set(text "#pragma once\n#define HERD_VERSION \"${VERSION}\"\n#define HERD_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
