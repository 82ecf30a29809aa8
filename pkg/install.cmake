# install.cmake - what `make install` puts where (and so what the package holds)
#
#   PREFIX/sbin/dumpsterd, PREFIX/bin/dumpsterctl, PREFIX/share/man/man{1,5,8}
#   DD_SYSCONFDIR/dumpsterd/{dumpsterd.conf,directory.tsv}  kept when present
#   the systemd unit: /lib/systemd/system (PREFIX /usr) or PREFIX/lib/systemd/system
#   PREFIX/share/doc/dumpsterd/{README.md.gz,copyright,changelog.gz}
#
# The installed dumpsterd.conf is conf/dumpsterd.conf with the paths of an
# installed hub (data_dir /var/lib/dumpsterd, the directory file in /etc)
# and port 25 on loopback; the unit names the installed binary and config.
include(GNUInstallDirs)

set(DD_SYSCONFDIR "/etc" CACHE PATH "dumpsterd/ with the configuration goes here")
set(DD_CONFDIR "${DD_SYSCONFDIR}/dumpsterd")
set(DD_STATEDIR "/var/lib/dumpsterd")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(DD_UNITDIR "/lib/systemd/system")
else()
  set(DD_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(DD_PKG_DIR ${CMAKE_BINARY_DIR}/pkg)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_SOURCE_DIR}/conf/dumpsterd.conf ${CMAKE_SOURCE_DIR}/conf/dumpsterd.service
             ${CMAKE_SOURCE_DIR}/pkg/changelog)

# dd_pkg_replace - in text var, replace from with to; the source must hold from
function(dd_pkg_replace var from to file)
  string(FIND "${${var}}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${file} no longer holds \"${from}\": update pkg/install.cmake")
  endif()
  string(REPLACE "${from}" "${to}" out "${${var}}")
  set(${var} "${out}" PARENT_SCOPE)
endfunction()

# The configuration of an installed hub.
file(READ ${CMAKE_SOURCE_DIR}/conf/dumpsterd.conf dd_conf)
dd_pkg_replace(dd_conf "data_dir = ./var      " "data_dir = ${DD_STATEDIR}" conf/dumpsterd.conf)
dd_pkg_replace(dd_conf "file = conf/directory.tsv" "file = ${DD_CONFDIR}/directory.tsv"
               conf/dumpsterd.conf)
dd_pkg_replace(dd_conf "listen = 127.0.0.1:2525 " "listen = 127.0.0.1:25   " conf/dumpsterd.conf)
dd_pkg_replace(dd_conf "# Every key is listed here"
               "# Installed copy: data_dir, the directory file and port 25 (loopback only;\n\
# 0.0.0.0:25 serves the network) differ from the source tree's.\n#\n# Every key is listed here"
               conf/dumpsterd.conf)
file(WRITE ${DD_PKG_DIR}/dumpsterd.conf "${dd_conf}")

# The unit, naming the installed binary and configuration.
file(READ ${CMAKE_SOURCE_DIR}/conf/dumpsterd.service dd_unit)
dd_pkg_replace(dd_unit "/usr/sbin/dumpsterd" "${CMAKE_INSTALL_FULL_SBINDIR}/dumpsterd"
               conf/dumpsterd.service)
dd_pkg_replace(dd_unit "/etc/dumpsterd/" "${DD_CONFDIR}/" conf/dumpsterd.service)
file(WRITE ${DD_PKG_DIR}/dumpsterd.service "${dd_unit}")

# Man pages, changelog and README, compressed as Debian wants them (-n: no time stamp).
set(dd_gz)
foreach(src conf/dumpsterd.8 conf/dumpsterd.conf.5 conf/dumpsterctl.1 pkg/changelog README.md)
  get_filename_component(name ${src} NAME)
  add_custom_command(OUTPUT ${DD_PKG_DIR}/${name}.gz
                     COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/${src} > ${DD_PKG_DIR}/${name}.gz
                     DEPENDS ${CMAKE_SOURCE_DIR}/${src} VERBATIM)
  list(APPEND dd_gz ${DD_PKG_DIR}/${name}.gz)
endforeach()
add_custom_target(dd_pkg_files ALL DEPENDS ${dd_gz})

install(TARGETS dumpsterd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS dumpsterctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# A stripping install (CPack) also drops .comment and .note, as dh_strip does.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    foreach(f ${CMAKE_INSTALL_SBINDIR}/dumpsterd ${CMAKE_INSTALL_BINDIR}/dumpsterctl)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --remove-section=.comment
                      --remove-section=.note \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/\${f}\")
    endforeach()
  endif()
")
install(FILES ${DD_PKG_DIR}/dumpsterctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${DD_PKG_DIR}/dumpsterd.conf.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${DD_PKG_DIR}/dumpsterd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${DD_PKG_DIR}/dumpsterd.service DESTINATION ${DD_UNITDIR})
install(FILES pkg/copyright ${DD_PKG_DIR}/changelog.gz ${DD_PKG_DIR}/README.md.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The configuration: an operator's files are never overwritten.
install(CODE "
  foreach(f dumpsterd.conf directory.tsv)
    if(f STREQUAL \"dumpsterd.conf\")
      set(src \"${DD_PKG_DIR}/dumpsterd.conf\")
    else()
      set(src \"${CMAKE_SOURCE_DIR}/conf/directory.tsv\")
    endif()
    if(EXISTS \"\$ENV{DESTDIR}${DD_CONFDIR}/\${f}\")
      message(STATUS \"Kept: \$ENV{DESTDIR}${DD_CONFDIR}/\${f} (present; not overwritten)\")
    else()
      file(INSTALL DESTINATION \"${DD_CONFDIR}\" TYPE FILE
           PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES \"\${src}\")
    endif()
  endforeach()
")
