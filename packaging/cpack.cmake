# `cpack -G DEB` in the build directory makes two packages, one per install component:
#   tcpfo_VERSION_amd64.deb       (component tcpfo) the daemons, tcpfo-run and its
#                                 library, the man pages, the systemd unit and an
#                                 example config;
#   tcpfo-dkms_VERSION_all.deb    (component dkms) the kernel module's source in
#                                 /usr/src/tcpfo-VERSION, built by DKMS on the machine
#                                 it is installed on, as Debian's *-dkms packages are.
set(CPACK_PACKAGE_NAME tcpfo)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tcpfo developers <tcpfo@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "live TCP connections to a service address that survive a server crash")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL tcpfo dkms)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Without the debug info of the RelWithDebInfo build: 32 MB installed otherwise.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_TCPFO_PACKAGE_NAME tcpfo)
set(CPACK_DEBIAN_TCPFO_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_TCPFO_PACKAGE_SECTION net)
# The shared libraries' packages (libbpf1, libmnl0, libfmt9, ...) from dpkg-shlibdeps;
# iproute2 for the operator (ip, tc).
set(CPACK_DEBIAN_TCPFO_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_TCPFO_PACKAGE_DEPENDS "iproute2")

set(CPACK_DEBIAN_DKMS_PACKAGE_NAME tcpfo-dkms)
set(CPACK_DEBIAN_DKMS_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_DKMS_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DKMS_PACKAGE_SECTION kernel)
# 3.0.3: the first with /usr/lib/dkms/common.postinst as the postinst calls it.
set(CPACK_DEBIAN_DKMS_PACKAGE_DEPENDS "dkms (>= 3.0.3)")
# Below the summary line (CPACK_PACKAGE_DESCRIPTION_SUMMARY, both packages'), one paragraph.
set(CPACK_DEBIAN_DKMS_DESCRIPTION "The source of tcpfo's kernel modules, which DKMS builds and installs
for each kernel whose headers are installed. So far tcpfo_count, which
counts the TCP segments of one port; failoverd does not use it yet.")
# dkms add/build/install on configure, dkms remove --all on removal (dh_dkms's way).
set(CPACK_DEBIAN_DKMS_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/packaging/dkms/postinst ${PROJECT_BINARY_DIR}/packaging/dkms/prerm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
