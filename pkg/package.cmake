# package.cmake - make package: dumpsterd_VERSION_ARCH.deb by CPack, no debian/
#
# The package holds what pkg/install.cmake installs under PREFIX (/usr for
# make package), marks /etc/dumpsterd/* as conffiles, and runs
# pkg/postinst (the dumpsterd user, /var/lib/dumpsterd 0700; nothing enabled
# or started), pkg/prerm (stop a running hub) and pkg/postrm (purge keeps
# the state unless DUMPSTERD_PURGE_STATE=yes or it is empty).
file(STRINGS ${CMAKE_SOURCE_DIR}/pkg/changelog dd_changelog_top LIMIT_COUNT 1)
if(NOT dd_changelog_top MATCHES "^dumpsterd \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "pkg/changelog starts with \"${dd_changelog_top}\", not version "
                      "${PROJECT_VERSION} of CMakeLists.txt: add an entry")
endif()
configure_file(${CMAKE_SOURCE_DIR}/pkg/conffiles.in ${DD_PKG_DIR}/conffiles @ONLY)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dumpsterd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the dumpsterd authors")
set(CPACK_PACKAGE_CONTACT "dumpsterd maintainers <dumpsterd@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SMTP hub relay with a transport dumpster")
set(CPACK_PACKAGE_DESCRIPTION
    "dumpsterd accepts mail over SMTP for the addresses its directory maps to
storage groups, commits each message to SQLite before it answers 250, and
relays it to the mailbox server of the storage group over SMTP or LMTP.
After delivery it keeps a copy in a dumpster bounded by age and size, from
which a time range can be resubmitted to a mailbox server that lost mail in
a failover. An admin HTTP API with Prometheus metrics and the dumpsterctl
client come with it.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/pkg/postinst ${CMAKE_SOURCE_DIR}/pkg/prerm
    ${CMAKE_SOURCE_DIR}/pkg/postrm ${DD_PKG_DIR}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
