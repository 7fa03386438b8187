# Bash completion of pktpoolctl: client/pktpoolctl/completion/pktpoolctl.bash installed
# as <completionsdir>/pktpoolctl (bash-completion loads a command's completion by its
# name on first use), by `cmake --install` and in the .deb. Included by the top-level
# CMakeLists.txt after cmake/Packaging.cmake.
#
# Where: bash-completion.pc's completionsdir (Debian: /usr/share/bash-completion/
# completions), taken relative to that .pc's prefix so the install prefix applies:
#   cmake --install build --prefix /usr        -> /usr/share/bash-completion/completions
#   cmake --install build --prefix /usr/local  -> /usr/local/share/bash-completion/completions
#                                                 (bash-completion looks there too:
#                                                 $XDG_DATA_DIRS/bash-completion/completions)
#   the .deb (prefix /usr)                     -> /usr/share/bash-completion/completions
# Without bash-completion.pc: share/bash-completion/completions (its default).
# PKTPOOL_BASH_COMPLETION_DIR overrides: relative is under the prefix, absolute as is.
include(GNUInstallDirs)

option(PKTPOOL_INSTALL_BASH_COMPLETION "Install the bash completion of pktpoolctl" ON)

set(PKTPOOL_BASH_COMPLETION_DEFAULT ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions)
pkg_get_variable(PKTPOOL_PKGCONFIG_COMPLETIONSDIR bash-completion completionsdir)
pkg_get_variable(PKTPOOL_PKGCONFIG_COMPLETION_PREFIX bash-completion prefix)
if(PKTPOOL_PKGCONFIG_COMPLETIONSDIR)
  if(NOT PKTPOOL_PKGCONFIG_COMPLETION_PREFIX)
    set(PKTPOOL_PKGCONFIG_COMPLETION_PREFIX /usr)
  endif()
  if(NOT IS_ABSOLUTE "${PKTPOOL_PKGCONFIG_COMPLETIONSDIR}")
    set(PKTPOOL_BASH_COMPLETION_DEFAULT ${PKTPOOL_PKGCONFIG_COMPLETIONSDIR})
  else()
    # /usr/share/bash-completion/completions -> share/bash-completion/completions
    file(RELATIVE_PATH pktpool_completion_relative "${PKTPOOL_PKGCONFIG_COMPLETION_PREFIX}"
         "${PKTPOOL_PKGCONFIG_COMPLETIONSDIR}")
    if(pktpool_completion_relative AND NOT pktpool_completion_relative MATCHES "^\\.\\.(/|$)")
      set(PKTPOOL_BASH_COMPLETION_DEFAULT ${pktpool_completion_relative})
    else()
      message(STATUS "bash-completion.pc's completionsdir ${PKTPOOL_PKGCONFIG_COMPLETIONSDIR} is "
                     "outside its prefix ${PKTPOOL_PKGCONFIG_COMPLETION_PREFIX}: installing to "
                     "${PKTPOOL_BASH_COMPLETION_DEFAULT} under the install prefix")
    endif()
  endif()
endif()
set(PKTPOOL_BASH_COMPLETION_DIR ${PKTPOOL_BASH_COMPLETION_DEFAULT} CACHE PATH
    "Where pktpoolctl's bash completion is installed (relative: under the install prefix; default: bash-completion.pc's completionsdir)")

if(PKTPOOL_INSTALL_BASH_COMPLETION)
  install(FILES ${PROJECT_SOURCE_DIR}/client/pktpoolctl/completion/pktpoolctl.bash
          DESTINATION ${PKTPOOL_BASH_COMPLETION_DIR} RENAME pktpoolctl)
endif()
