# Man pages: pktpoold(8), pktpoolctl(8) and pktpoold.textproto(5), written in scdoc
# (doc/man/NAME.SECTION.scd) and built with Debian's scdoc into ${PROJECT_BINARY_DIR}/man:
# NAME.SECTION (roff, for `man -l` and the test deploy_man_pages) and NAME.SECTION.gz
# (gzip -9n: no name or time stamp, so the .deb is reproducible), which `cmake --install`
# and the .deb install into ${CMAKE_INSTALL_MANDIR}/manSECTION (/usr/share/man/man8, ...).
# Included by the top-level CMakeLists.txt after cmake/Packaging.cmake (its `deb` target).
#
#   cmake --build build --target man_pages      # also part of ALL, pktpoold, pktpoolctl, deb
#   man -l build/man/pktpoolctl.8
#
# "@PKTPOOL_VERSION@" in a page becomes the project's version. The date in each page's
# footer is $SOURCE_DATE_EPOCH when set at configure time, else the time of the last
# commit that changed doc/man (else of the newest page source): a rebuild of the same
# sources makes the same pages.
#
# This file is also the build step of one page, in script mode:
#   cmake -DSCDOC=... -DGZIP=... -DSOURCE=X.8.scd -DOUTPUT=DIR/X.8 -DVERSION=...
#         -DDATE_EPOCH=... -P cmake/ManPages.cmake
if(CMAKE_SCRIPT_MODE_FILE)
  file(READ "${SOURCE}" pktpool_man_text)
  string(REPLACE "@PKTPOOL_VERSION@" "${VERSION}" pktpool_man_text "${pktpool_man_text}")
  # scdoc reads standard input; its errors name the line, which the substitution keeps.
  file(WRITE "${OUTPUT}.scd" "${pktpool_man_text}")
  set(ENV{SOURCE_DATE_EPOCH} "${DATE_EPOCH}")
  execute_process(COMMAND "${SCDOC}" INPUT_FILE "${OUTPUT}.scd" OUTPUT_FILE "${OUTPUT}"
                  ERROR_VARIABLE pktpool_man_errors RESULT_VARIABLE pktpool_man_result)
  if(NOT pktpool_man_result EQUAL 0 OR NOT pktpool_man_errors STREQUAL "")
    file(REMOVE "${OUTPUT}")
    message(FATAL_ERROR "scdoc failed on ${SOURCE} (exit ${pktpool_man_result}): "
                        "${pktpool_man_errors}")
  endif()
  execute_process(COMMAND "${GZIP}" -9n --stdout "${OUTPUT}" OUTPUT_FILE "${OUTPUT}.gz"
                  RESULT_VARIABLE pktpool_man_result)
  if(NOT pktpool_man_result EQUAL 0)
    file(REMOVE "${OUTPUT}" "${OUTPUT}.gz")
    message(FATAL_ERROR "gzip -9n ${OUTPUT} failed (exit ${pktpool_man_result})")
  endif()
  return()
endif()

include(GNUInstallDirs)

find_program(PKTPOOL_SCDOC scdoc)
if(NOT PKTPOOL_SCDOC)
  message(FATAL_ERROR "scdoc not found: the man pages (doc/man/*.scd) are built with it; "
                      "install the Debian package scdoc (apt-get install scdoc, or "
                      "scripts/install-deps.sh)")
endif()
# gzip: PKTPOOL_GZIP, found (required) by cmake/Packaging.cmake for the changelog.

set(PKTPOOL_MAN_PAGES pktpoold.8 pktpoolctl.8 pktpoold.textproto.5)
set(PKTPOOL_MAN_SOURCE_DIR ${PROJECT_SOURCE_DIR}/doc/man)
set(PKTPOOL_MAN_DIR ${PROJECT_BINARY_DIR}/man)

# The footer date (see above).
set(PKTPOOL_MAN_DATE_EPOCH "")
if(DEFINED ENV{SOURCE_DATE_EPOCH})
  set(PKTPOOL_MAN_DATE_EPOCH "$ENV{SOURCE_DATE_EPOCH}")
else()
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(COMMAND ${GIT_EXECUTABLE} log -1 --format=%ct -- doc/man
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                    OUTPUT_VARIABLE PKTPOOL_MAN_DATE_EPOCH
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  if(NOT PKTPOOL_MAN_DATE_EPOCH MATCHES "^[0-9]+$")
    set(PKTPOOL_MAN_DATE_EPOCH 0)
    foreach(page IN LISTS PKTPOOL_MAN_PAGES)
      file(TIMESTAMP ${PKTPOOL_MAN_SOURCE_DIR}/${page}.scd page_epoch "%s" UTC)
      if(page_epoch GREATER PKTPOOL_MAN_DATE_EPOCH)
        set(PKTPOOL_MAN_DATE_EPOCH ${page_epoch})
      endif()
    endforeach()
  endif()
endif()

set(PKTPOOL_MAN_OUTPUTS)
foreach(page IN LISTS PKTPOOL_MAN_PAGES)
  string(REGEX MATCH "[0-9]$" section ${page})
  set(source ${PKTPOOL_MAN_SOURCE_DIR}/${page}.scd)
  set(roff ${PKTPOOL_MAN_DIR}/${page})
  add_custom_command(
    OUTPUT ${roff} ${roff}.gz
    COMMAND ${CMAKE_COMMAND} -DSCDOC=${PKTPOOL_SCDOC} -DGZIP=${PKTPOOL_GZIP}
            -DSOURCE=${source} -DOUTPUT=${roff} -DVERSION=${PROJECT_VERSION}
            -DDATE_EPOCH=${PKTPOOL_MAN_DATE_EPOCH} -P ${CMAKE_CURRENT_LIST_FILE}
    DEPENDS ${source} ${CMAKE_CURRENT_LIST_FILE}
    COMMENT "Building the man page ${page} (scdoc)"
    VERBATIM)
  list(APPEND PKTPOOL_MAN_OUTPUTS ${roff} ${roff}.gz)
  install(FILES ${roff}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()

add_custom_target(man_pages ALL DEPENDS ${PKTPOOL_MAN_OUTPUTS})
# `cmake --install` and cpack build nothing (CMAKE_SKIP_INSTALL_ALL_DEPENDENCY in
# cmake/Packaging.cmake): building the programs the documented way (`--target pktpoold
# pktpoolctl`, or `deb`) builds their pages too, so the install rules above find them.
add_dependencies(deb man_pages)
add_dependencies(pktpoold man_pages)
add_dependencies(pktpoolctl man_pages)
