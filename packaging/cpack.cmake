# `cpack -G DEB` in the build directory makes tcpfo_VERSION_amd64.deb: the daemons,
# tcpfo-run and its library, the man pages, the systemd unit and an example config.
set(CPACK_PACKAGE_NAME tcpfo)
set(CPACK_PACKAGE_VERSION 0.8.0)
set(CPACK_PACKAGE_CONTACT "tcpfo developers <tcpfo@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "live TCP connections to a service address that survive a server crash")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Without the debug info of the RelWithDebInfo build: 32 MB installed otherwise.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The shared libraries' packages (libbpf1, libmnl0, libfmt9, ...) from dpkg-shlibdeps;
# iproute2 for the operator (ip, tc).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iproute2")
include(CPack)
