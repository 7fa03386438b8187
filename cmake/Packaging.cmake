# Install rules and the Debian package (CPack DEB) of pktpool: pktpoold, pktpoolctl,
# pktpool-extcap (Wireshark's extcap folder: client/extcap/CMakeLists.txt), the systemd
# unit, the sysusers.d entry, the example config (a conffile) and the deployment
# examples. Included by the top-level CMakeLists.txt after every target exists. Only the
# three programs are installed: tests and benchmarks never are.
#
#   cmake --build build --target pktpoold pktpoolctl pktpool-extcap
#   cmake --install build --prefix /usr            # or: DESTDIR=/tmp/root cmake --install ...
#   cpack --config build/CPackConfig.cmake -B /tmp/deb   # -> pktpool_<version>_<arch>.deb
#   cmake --build build --target deb                     # both: build, then cpack
include(GNUInstallDirs)

# Paths systemd and the unit know, absolute whatever the prefix is: systemd reads units
# only from a few directories, and the unit names /etc/pktpool/pktpoold.textproto.
# Debian 12 expects units in /lib/systemd/system (its systemd.pc says so); later
# releases in /usr/lib/systemd/system.
pkg_get_variable(PKTPOOL_PKGCONFIG_UNITDIR systemd systemdsystemunitdir)
if(NOT PKTPOOL_PKGCONFIG_UNITDIR)
  set(PKTPOOL_PKGCONFIG_UNITDIR /lib/systemd/system)
endif()
set(PKTPOOL_SYSTEMD_UNITDIR ${PKTPOOL_PKGCONFIG_UNITDIR} CACHE PATH
    "Where pktpoold.service is installed (absolute; default: systemd.pc's systemdsystemunitdir)")
set(PKTPOOL_CONFIG_DIR /etc/pktpool CACHE PATH
    "Where the config pktpoold.textproto is installed (absolute; the unit reads it there)")
foreach(path_variable PKTPOOL_SYSTEMD_UNITDIR PKTPOOL_CONFIG_DIR)
  if(NOT IS_ABSOLUTE "${${path_variable}}")
    message(FATAL_ERROR "${path_variable} must be an absolute path, not '${${path_variable}}'")
  endif()
endforeach()

install(TARGETS pktpoold RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS pktpoolctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit names /usr/sbin/pktpoold; installed under another prefix it names the
# daemon where it was installed. Written at install time: only then is the prefix
# (cmake --install --prefix, CPack's /usr) known.
set(PKTPOOL_UNIT_SOURCE ${PROJECT_SOURCE_DIR}/deploy/systemd/pktpoold.service)
set(PKTPOOL_UNIT_STAGED ${PROJECT_BINARY_DIR}/deploy/pktpoold.service)
install(CODE "
  file(READ \"${PKTPOOL_UNIT_SOURCE}\" pktpool_unit)
  string(REPLACE \"ExecStart=/usr/sbin/pktpoold \"
         \"ExecStart=\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/pktpoold \"
         pktpool_unit \"\${pktpool_unit}\")
  string(REPLACE \"/etc/pktpool/\" \"${PKTPOOL_CONFIG_DIR}/\" pktpool_unit \"\${pktpool_unit}\")
  file(WRITE \"${PKTPOOL_UNIT_STAGED}\" \"\${pktpool_unit}\")
")
install(FILES ${PKTPOOL_UNIT_STAGED} DESTINATION ${PKTPOOL_SYSTEMD_UNITDIR})
# The user and group pktpool (systemd-sysusers; the .deb's postinst runs it).
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/pktpool.sysusers
        DESTINATION lib/sysusers.d RENAME pktpool.conf)
# No tmpfiles.d entry: /run/pktpoold is the unit's RuntimeDirectory.

# The config: in the .deb a conffile (dpkg keeps the operator's edits); with
# `cmake --install` it is installed only when absent, so a reinstall never
# overwrites an edited config.
set(PKTPOOL_EXAMPLE_CONFIG ${PROJECT_SOURCE_DIR}/deploy/pktpoold.textproto)
install(CODE "
  if(EXISTS \"\$ENV{DESTDIR}${PKTPOOL_CONFIG_DIR}/pktpoold.textproto\")
    message(STATUS \"Keeping: \$ENV{DESTDIR}${PKTPOOL_CONFIG_DIR}/pktpoold.textproto \"
                   \"(the example is in share/doc/pktpool/examples)\")
  else()
    file(INSTALL DESTINATION \"${PKTPOOL_CONFIG_DIR}\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES \"${PKTPOOL_EXAMPLE_CONFIG}\")
  endif()
")

set(PKTPOOL_DOC_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/pktpool)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${PKTPOOL_DOC_DIR})

# The license in Debian's machine-readable form (DEP-5; the full text is LICENSE, and on
# Debian /usr/share/common-licenses/Apache-2.0) and the changelog, where Debian policy
# puts them: share/doc/pktpool/copyright and changelog.gz (a native package's name),
# compressed with `gzip -9n` (no name, no time stamp: the .deb is reproducible).
set(PKTPOOL_CHANGELOG ${PROJECT_SOURCE_DIR}/deploy/debian/changelog)
file(STRINGS ${PKTPOOL_CHANGELOG} pktpool_changelog_head LIMIT_COUNT 1)
if(NOT pktpool_changelog_head MATCHES "^pktpool \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "deploy/debian/changelog starts with '${pktpool_changelog_head}': its "
          "newest entry must be for version ${PROJECT_VERSION} (project() in CMakeLists.txt); "
          "add an entry (dch -c deploy/debian/changelog -v ${PROJECT_VERSION})")
endif()
find_program(PKTPOOL_GZIP gzip REQUIRED)
set(PKTPOOL_CHANGELOG_GZ ${PROJECT_BINARY_DIR}/deploy/changelog.gz)
add_custom_command(OUTPUT ${PKTPOOL_CHANGELOG_GZ}
  COMMAND ${CMAKE_COMMAND} -E copy ${PKTPOOL_CHANGELOG} ${PROJECT_BINARY_DIR}/deploy/changelog
  COMMAND ${PKTPOOL_GZIP} -9nf ${PROJECT_BINARY_DIR}/deploy/changelog
  DEPENDS ${PKTPOOL_CHANGELOG}
  COMMENT "Compressing the Debian changelog"
  VERBATIM)
add_custom_target(package_changelog ALL DEPENDS ${PKTPOOL_CHANGELOG_GZ})
install(FILES ${PKTPOOL_CHANGELOG_GZ} ${PROJECT_SOURCE_DIR}/deploy/debian/copyright
        DESTINATION ${PKTPOOL_DOC_DIR})
# What lintian reports and Debian accepts here, each with its reason (the deploy_deb test
# runs lintian on the package).
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME pktpool)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/README.md DESTINATION ${PKTPOOL_DOC_DIR}
        RENAME README.deploy.md)
install(FILES ${PKTPOOL_EXAMPLE_CONFIG} DESTINATION ${PKTPOOL_DOC_DIR}/examples)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/kubernetes ${PROJECT_SOURCE_DIR}/deploy/grafana
        DESTINATION ${PKTPOOL_DOC_DIR}/examples)

# ---- the Debian package -------------------------------------------------------------
set(PKTPOOL_PACKAGE_MAINTAINER "pktpool maintainers <maintainers@pktpool.invalid>" CACHE STRING
    "Maintainer field of the .deb: Name <email>")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pktpool)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "pktpool")
set(CPACK_PACKAGE_CONTACT ${PKTPOOL_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "NDIS-style packet pools on libpcap bindings, with a gRPC control plane")
# Lines of at most 79 characters: the control file indents each by one (lintian's
# extended-description-line-too-long).
set(CPACK_PACKAGE_DESCRIPTION
    "pktpoold binds network interfaces through libpcap, captures and injects
Ethernet frames, and runs its receive and send paths through NDIS 5.1-style
packet and buffer pools. A gRPC control plane (Unix socket, optional TLS TCP)
exposes pool statistics, live pool tuning, sends and capture streams;
Prometheus metrics are served over HTTP. pktpoolctl is its command line, and
pktpool-extcap lets Wireshark capture through the daemon.

The package installs the systemd unit pktpoold.service (hardened, with
CAP_NET_RAW and CAP_NET_ADMIN only, disabled until enabled), the system user
pktpool and the config /etc/pktpool/pktpoold.textproto.")
# The file name Debian tools expect: pktpool_0.1.0_amd64.deb.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${PKTPOOL_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from dpkg-shlibdeps: the exact Debian packages (and minimum
# versions) the two programs link against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst creates the user with systemd-sysusers, or with useradd without systemd.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# With CPACK_SET_DESTDIR cpack installs with CMAKE_INSTALL_PREFIX=CPACK_INSTALL_PREFIX
# (default: the build's /usr/local): the package's prefix is /usr whatever the build's.
set(CPACK_INSTALL_PREFIX ${CPACK_PACKAGING_INSTALL_PREFIX})
# The unit, sysusers and config paths are absolute: stage them through DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
# Source tarball (cpack --config CPackSourceConfig.cmake): the tree without builds.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/__pycache__/")

include(CPack)

# `cmake --install` and cpack install what is built and build nothing: without this the
# Makefile generator's preinstall step builds every target (tests, benchmarks) first.
# `cmake --build build --target deb` builds the three programs and runs cpack.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
add_custom_target(deb
  COMMAND ${CMAKE_CPACK_COMMAND} --config ${PROJECT_BINARY_DIR}/CPackConfig.cmake
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  COMMENT "Building the .deb (pktpool_${PROJECT_VERSION}_*.deb in ${PROJECT_BINARY_DIR})"
  VERBATIM)
add_dependencies(deb pktpoold pktpoolctl pktpool-extcap package_changelog)
