# Run by `cmake --install`, so that both follow the prefix given at install time
# (`cmake --install build --prefix /usr`), as GNUInstallDirs would at configure time:
#  - the systemd unit, with ExecStart= naming the binary where this install puts it
#    (config/issuerhookd.service names /usr/sbin/issuerhookd);
#  - the example configuration, in /etc/issuerhook for the /usr prefix, else in
#    <prefix>/etc/issuerhook.
# Set beforehand by install(CODE): IH_SOURCE_DIR, IH_BINARY_DIR, IH_SBINDIR, IH_UNIT_DIR.
file(READ "${IH_SOURCE_DIR}/config/issuerhookd.service" unit)
string(REPLACE "/usr/sbin/issuerhookd" "${CMAKE_INSTALL_PREFIX}/${IH_SBINDIR}/issuerhookd" unit "${unit}")
file(WRITE "${IH_BINARY_DIR}/install/issuerhookd.service" "${unit}")
file(INSTALL "${IH_BINARY_DIR}/install/issuerhookd.service" DESTINATION "${CMAKE_INSTALL_PREFIX}/${IH_UNIT_DIR}")

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc "/etc")
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
file(INSTALL "${IH_SOURCE_DIR}/config/production.env.example" DESTINATION "${etc}/issuerhook"
     RENAME issuerhook.env.example)
